package source

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// hidden reports whether a slash-separated name has an element a listing skips: a dot file or
// dot directory, or the resource-fork folder macOS adds to the zips it makes.
func hidden(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "__MACOSX" || (strings.HasPrefix(elem, ".") && elem != "." && elem != "..") {
			return true
		}
	}
	return false
}

// cleanEntryName turns an archive entry name into a source name: backslashes (from Windows
// tools) become slashes and the result is path.Clean'ed. safe is false for a name that is
// empty, absolute (a leading slash or a drive letter), climbs out of the root, or holds a NUL:
// such an entry is listed as refused under the name returned.
func cleanEntryName(raw string) (name string, safe bool) {
	name = strings.ReplaceAll(raw, `\`, "/")
	if name == "" || strings.ContainsRune(name, 0) {
		return name, false
	}
	if len(name) >= 2 && name[1] == ':' && isLetter(name[0]) {
		return name, false // "C:/x", "C:x"
	}
	name = path.Clean(name)
	if !fs.ValidPath(name) || name == "." {
		return name, false // "/x", "..", "../x"
	}
	return name, true
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// names keeps the names one Files call of an archive has listed, so that every name is listed
// once even when an archive holds several entries of the same name (tar appends updates;
// a hostile archive may do it on purpose).
type names map[string]bool

// unique returns name if it was not listed yet, else name with "#" and the entry's number
// added (as often as needed), and records what it returns. dup says whether name was taken.
// An empty name becomes "#entry".
func (n names) unique(name string, entry int) (unique string, dup bool) {
	unique = name
	for unique == "" || n[unique] {
		dup = dup || unique != ""
		unique += "#" + strconv.Itoa(entry)
	}
	n[unique] = true
	return unique, dup
}
