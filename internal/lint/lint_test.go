// Package lint holds tests about the code base itself rather than its behaviour: today the
// import rules that keep the domain free of adapters and of cgo (issue 13).
package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/facematch/facematch"

// pkg is what the import rules read of one package, from `go list -json`. The rules name the
// module's packages relative to it ("engine", "internal/blob/s3"); see [mod].
type pkg struct {
	ImportPath   string
	Imports      []string // of the non-test files
	TestImports  []string
	XTestImports []string
	Deps         []string // transitive imports of the non-test files
}

const onnxRuntime = "github.com/yalue/onnxruntime_go"

// driverPrefixes are the third-party packages that tie code to a concrete part: ONNX Runtime,
// the S3 client, the SQL driver, the HTTP framework. The domain reaches none of them, even
// through another package.
var driverPrefixes = []string{onnxRuntime, "github.com/minio/minio-go", "modernc.org/sqlite", echo}

const echo = "github.com/labstack/echo"

// engineAdapters are the packages the domain must not import: it defines the interfaces they
// implement, and internal/app wires them together. models/decode is not among them: it is
// pure Go (image decoding under limits) and the pipeline's first step.
var engineAdapters = []string{"api", "models", "internal/app", "internal/blob", "internal/catalog", "internal/source", "internal/webui", "cmd"}

// composers may import the composition root (internal/app): the commands, the benchmarks and
// the root itself. An adapter that imported it would import every other adapter.
var composers = []string{"cmd", "bench", "internal/app"}

// within reports whether path is dir or a package below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// mod is the full import path of the module's package rel.
func mod(rel string) string { return module + "/" + rel }

// in reports whether path is the module's package rel or a package below it.
func in(path, rel string) bool { return within(path, mod(rel)) }

func inAny(path string, rels []string) bool {
	return slices.ContainsFunc(rels, func(r string) bool { return in(path, r) })
}

// short drops the module path from messages.
func short(path string) string { return strings.TrimPrefix(path, module+"/") }

// violations lists every broken import rule, one line each.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		// Only models (the sessions) and cmd (the composition) load ONNX Runtime, tests
		// included: everything else builds with CGO_ENABLED=0.
		if !in(p.ImportPath, "models") && !in(p.ImportPath, "cmd") {
			for _, imps := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
				if slices.Contains(imps, onnxRuntime) {
					out = append(out, fmt.Sprintf("%s imports %s: only models and cmd may run ONNX Runtime", short(p.ImportPath), onnxRuntime))
					break
				}
			}
		}
		if !inAny(p.ImportPath, composers) && slices.Contains(p.Imports, mod("internal/app")) {
			out = append(out, fmt.Sprintf("%s imports internal/app: only cmd and bench import the composition root; take what you need as an interface instead", short(p.ImportPath)))
		}
		switch {
		case in(p.ImportPath, "engine"):
			for _, imp := range p.Imports {
				if inAny(imp, engineAdapters) && !in(imp, "models/decode") {
					out = append(out, fmt.Sprintf("%s imports %s: the engine imports no adapter; define the interface or type it needs in engine and translate in the composition (internal/app)", short(p.ImportPath), short(imp)))
				}
			}
			out = append(out, driverDeps(p, "the engine", driverPrefixes)...)
		case in(p.ImportPath, "api"):
			for _, imp := range p.Imports {
				if !inAny(imp, []string{"internal", "index", "models"}) {
					continue
				}
				out = append(out, fmt.Sprintf("%s imports %s: the API speaks to the engine only (adapters, index and models stay behind it)", short(p.ImportPath), short(imp)))
			}
			// The API is echo handlers; every other driver stays behind the engine.
			out = append(out, driverDeps(p, "the API", slices.DeleteFunc(slices.Clone(driverPrefixes), func(d string) bool { return d == echo }))...)
		case in(p.ImportPath, "face"):
			// face/facetest, the fake models of the quick tier, stands on face and nothing else.
			for _, dep := range p.Deps {
				if !standard(dep) && dep != mod("face") {
					out = append(out, fmt.Sprintf("%s depends on %s: face is a leaf of pure Go on the standard library", short(p.ImportPath), short(dep)))
				}
			}
		}
	}
	return out
}

// driverDeps lists the drivers p reaches, directly or through other packages.
func driverDeps(p pkg, who string, drivers []string) []string {
	var out []string
	for _, d := range drivers {
		// One line per driver, naming the first of its packages reached.
		if i := slices.IndexFunc(p.Deps, func(dep string) bool { return within(dep, d) }); i >= 0 {
			out = append(out, fmt.Sprintf("%s depends on %s: %s knows no driver types", short(p.ImportPath), p.Deps[i], who))
		}
	}
	return out
}

// standard reports whether path is in the standard library (its first element has no dot).
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// listModule runs `go list` over every package of the module.
func listModule(t *testing.T) []pkg {
	t.Helper()
	touchSources(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	cmd := exec.Command(goTool, "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Deps", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package")
	}
	return pkgs
}

// touchSources reads the module's tree (directories and each Go file's metadata) through
// package os, so that go test's cache, which does not see what the go list child reads,
// reruns this test after any source changes.
func touchSources(t *testing.T) {
	t.Helper()
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	// The rules must see the packages they are about, or a rename would pass them silently.
	for _, want := range []string{"engine", "api", "face", "models", "cmd/facematch"} {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == mod(want) }) {
			t.Fatalf("go list did not list %s", want)
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// mods is mod over each of rels.
func mods(rels ...string) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = mod(r)
	}
	return out
}

// TestViolationsFound shows each rule failing on a package that breaks it.
func TestViolationsFound(t *testing.T) {
	apiImports := mods("engine")
	api := pkg{ImportPath: mod("api"), Imports: apiImports}
	tests := []struct {
		name string
		pkgs []pkg
		want string // a substring of the one violation expected
	}{
		{"ORT outside models", []pkg{api, {ImportPath: mod("index"), Imports: []string{onnxRuntime}}}, "index imports github.com/yalue/onnxruntime_go"},
		{"ORT in another package's test", []pkg{api, {ImportPath: mod("bench"), XTestImports: []string{onnxRuntime}}}, "bench imports github.com/yalue/onnxruntime_go"},
		{"engine imports models", []pkg{api, {ImportPath: mod("engine"), Imports: mods("face", "models")}}, "engine imports models:"},
		{"engine imports a blob store", []pkg{api, {ImportPath: mod("engine"), Imports: mods("internal/blob")}}, "engine imports internal/blob:"},
		{"engine subpackage imports the catalog", []pkg{api, {ImportPath: mod("engine/x"), Imports: mods("internal/catalog")}}, "engine/x imports internal/catalog:"},
		{"engine reaches the S3 client", []pkg{api, {ImportPath: mod("engine"), Deps: append(mods("index"), "github.com/minio/minio-go/v7")}}, "engine depends on github.com/minio/minio-go/v7"},
		{"engine reaches echo", []pkg{api, {ImportPath: mod("engine"), Deps: []string{"github.com/labstack/echo/v4"}}}, "engine depends on github.com/labstack/echo/v4"},
		{"api imports the catalog", []pkg{{ImportPath: mod("api"), Imports: append(mods("internal/catalog"), apiImports...)}}, "api imports internal/catalog:"},
		{"api imports models", []pkg{{ImportPath: mod("api"), Imports: append(mods("models"), apiImports...)}}, "api imports models:"},
		{"api reaches the SQL driver", []pkg{{ImportPath: mod("api"), Imports: apiImports, Deps: []string{"modernc.org/sqlite"}}}, "api depends on modernc.org/sqlite"},
		{"face is not a leaf", []pkg{api, {ImportPath: mod("face"), Deps: append([]string{"math"}, mods("index")...)}}, "face depends on index"},
		{"api imports the index", []pkg{{ImportPath: mod("api"), Imports: mods("engine", "index")}}, "api imports index:"},
		{"an adapter imports the composition root", []pkg{api, {ImportPath: mod("internal/catalog"), Imports: mods("engine", "internal/app")}}, "internal/catalog imports internal/app:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := violations(tc.pkgs)
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Fatalf("violations = %q, want one containing %q", got, tc.want)
			}
		})
	}
	allowed := []pkg{
		{ImportPath: mod("api"), Imports: append(mods("engine"), apiImports...), Deps: []string{"github.com/labstack/echo/v4"}},
		{ImportPath: mod("engine"), Imports: mods("face", "index", "models/decode", "internal/verify"), TestImports: mods("models", "internal/catalog")},
		{ImportPath: mod("models"), Imports: append(mods("face"), onnxRuntime)},
		{ImportPath: mod("cmd/facematch"), Imports: mods("models", "internal/app", "internal/blob/s3")},
		{ImportPath: mod("internal/app"), Imports: mods("engine", "models", "index", "internal/catalog", "internal/source")},
		{ImportPath: mod("bench/ingestbench"), Imports: mods("engine", "internal/app")},
		{ImportPath: mod("face"), Deps: []string{"image", "math"}},
	}
	if got := violations(allowed); len(got) != 0 {
		t.Fatalf("the allowed imports were refused: %q", got)
	}
}
