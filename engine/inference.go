package engine

import (
	"sort"
	"sync"
	"time"
)

// InferenceStat is what the models cost so far, per model: photos analysed (detection, quality
// and embedding, decoding excluded) and the seconds they took, for the service's metrics.
type InferenceStat struct {
	Model    string
	Analyses int64
	Seconds  float64
}

// inferenceStats sums analysis time per model identity.
type inferenceStats struct {
	mu      sync.Mutex
	byModel map[string]*InferenceStat
}

func (st *inferenceStats) observe(model string, d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byModel == nil {
		st.byModel = map[string]*InferenceStat{}
	}
	s := st.byModel[model]
	if s == nil {
		s = &InferenceStat{Model: model}
		st.byModel[model] = s
	}
	s.Analyses++
	s.Seconds += d.Seconds()
}

// InferenceStats returns the analysis counts and time per model, by model identity.
func (s *Service) InferenceStats() []InferenceStat {
	s.inference.mu.Lock()
	defer s.inference.mu.Unlock()
	out := make([]InferenceStat, 0, len(s.inference.byModel))
	for _, st := range s.inference.byModel {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
