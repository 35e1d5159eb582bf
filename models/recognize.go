package models

import (
	"context"
	"errors"
	"fmt"
	"image"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facematch/facematch/face"
)

// RecognizerConfig tunes a [Recognizer]. Zero values mean the defaults.
type RecognizerConfig struct {
	// BatchSize is the most faces sent to the network in one run (default 16).
	BatchSize int
	// Flip averages the embedding of each face with that of its mirror image (test-time
	// augmentation). It doubles the inference cost; see bench/RESULTS.md for what it buys.
	Flip bool
	// KeepDenormals turns off the flush-to-zero fix for models marked Denormals. It exists
	// only so the benchmark can show what the fix is worth; vectors are the same either way.
	KeepDenormals bool
	// Threads overrides the runtime's intra-op thread count for this model (0: the runtime's).
	Threads int
}

// Validate reports every problem at once.
func (c RecognizerConfig) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.BatchSize > 256 {
		errs = append(errs, fmt.Errorf("recognizer: BatchSize must be in [0,256], got %d", c.BatchSize))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("recognizer: Threads must be >= 0, got %d", c.Threads))
	}
	return errors.Join(errs...)
}

// Recognizer aligns faces and turns them into embeddings. It is safe for concurrent use.
type Recognizer struct {
	sess *session
	cfg  RecognizerConfig
}

// Recognizer opens the named recognizer model (face.Faceplugin512 or face.Dlib128).
func (r *Runtime) Recognizer(name string, cfg RecognizerConfig) (*Recognizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 16
	}
	m, err := r.manifest(name, face.RoleRecognizer)
	if err != nil {
		return nil, err
	}
	s, err := r.openSession(m, cfg.KeepDenormals, cfg.Threads)
	if err != nil {
		return nil, err
	}
	return &Recognizer{sess: s, cfg: cfg}, nil
}

// Manifest describes the recognizer's model.
func (r *Recognizer) Manifest() face.Manifest { return r.sess.manifest }

// Identity names the model and the options that change its vectors.
func (r *Recognizer) Identity() string {
	id := r.sess.manifest.Identity()
	if r.cfg.Flip {
		id += "+flip"
	}
	return id
}

// Dim is the embedding dimension.
func (r *Recognizer) Dim() int { return r.sess.manifest.Dim }

// AlignFace crops one face as this recognizer expects it.
func (r *Recognizer) AlignFace(img *image.NRGBA, lm face.Landmarks) *image.NRGBA {
	m := r.sess.manifest
	return face.Align(img, lm, m.Template, m.Size)
}

// Embed aligns each face of img (given by its landmarks) and returns one embedding per face,
// in order. Faces go to the network in batches of BatchSize.
func (r *Recognizer) Embed(ctx context.Context, img *image.NRGBA, faces []face.Landmarks) ([]face.Embedding, error) {
	crops := make([]*image.NRGBA, len(faces))
	for i, lm := range faces {
		crops[i] = r.AlignFace(img, lm)
	}
	return r.EmbedAligned(ctx, crops)
}

// EmbedAligned embeds crops already aligned by AlignFace.
func (r *Recognizer) EmbedAligned(ctx context.Context, crops []*image.NRGBA) ([]face.Embedding, error) {
	out := make([]face.Embedding, 0, len(crops))
	for start := 0; start < len(crops); start += r.cfg.BatchSize {
		batch := crops[start:min(start+r.cfg.BatchSize, len(crops))]
		if r.cfg.Flip {
			withMirrors := make([]*image.NRGBA, 0, 2*len(batch))
			withMirrors = append(withMirrors, batch...)
			for _, c := range batch {
				withMirrors = append(withMirrors, flipHorizontal(c))
			}
			batch = withMirrors
		}
		vecs, err := r.run(ctx, batch)
		if err != nil {
			return nil, err
		}
		n := len(vecs)
		if r.cfg.Flip {
			n /= 2
			for i := 0; i < n; i++ {
				// Normalise each half first so the face and its mirror weigh the same.
				face.Normalize(vecs[i])
				face.Normalize(vecs[n+i])
				for j := range vecs[i] {
					vecs[i][j] += vecs[n+i][j]
				}
			}
		}
		for _, v := range vecs[:n] {
			face.Normalize(v)
			out = append(out, face.Embedding{Model: r.Identity(), Vector: v})
		}
	}
	return out, nil
}

// run sends one batch of aligned crops through the network and returns raw output vectors.
func (r *Recognizer) run(ctx context.Context, crops []*image.NRGBA) ([][]float32, error) {
	m := r.sess.manifest
	per := 3 * m.Size * m.Size
	data := make([]float32, len(crops)*per)
	for i, c := range crops {
		if c.Rect.Dx() != m.Size || c.Rect.Dy() != m.Size {
			return nil, fmt.Errorf("models: %s: crop is %dx%d, want %dx%d", m.Name, c.Rect.Dx(), c.Rect.Dy(), m.Size, m.Size)
		}
		fillTensor(data[i*per:(i+1)*per], c, m.Color, m.Mean, m.Scale)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(crops)), 3, int64(m.Size), int64(m.Size)), data)
	if err != nil {
		return nil, fmt.Errorf("models: recognizer input: %w", err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := r.sess.run(ctx, []ort.Value{in}, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	flat, shape, err := tensorData(outs[0])
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.Name, err)
	}
	if len(shape) != 2 || shape[0] != int64(len(crops)) || shape[1] != int64(m.Dim) {
		return nil, fmt.Errorf("models: %s: output shape %v, want [%d %d]", m.Name, shape, len(crops), m.Dim)
	}
	vecs := make([][]float32, len(crops))
	for i := range vecs {
		// Copy out: the tensor's memory belongs to ORT and is freed by Destroy.
		vecs[i] = append([]float32(nil), flat[i*m.Dim:(i+1)*m.Dim]...)
	}
	return vecs, nil
}
