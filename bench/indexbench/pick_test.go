package indexbench

import "testing"

func TestPick(t *testing.T) {
	sweep := []Point{
		{Ef: 64, RecallAt10: 0.50, MateRecall: 0.95, QPS: 4000},
		{Ef: 128, RecallAt10: 0.70, MateRecall: 0.99, QPS: 2000},
		{Ef: 256, RecallAt10: 0.85, MateRecall: 0.996, QPS: 1000},
		{Ef: 512, RecallAt10: 0.95, MateRecall: 0.996, QPS: 500},
	}
	tests := []struct {
		name         string
		recall, mate float64
		wantEf       int
		wantMet      bool
	}{
		{"mate recall alone (issue 17)", 0, 0.99, 128, true},
		{"a higher mate bar", 0, 0.995, 256, true},
		{"with a recall@10 bar (issue 3)", 0.95, 0.99, 512, true},
		{"out of reach: the best mate recall, then recall@10", 0, 0.999, 512, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, met := pick(sweep, tt.recall, tt.mate)
			if p.Ef != tt.wantEf || met != tt.wantMet {
				t.Errorf("pick = ef %d, met %v; want ef %d, %v", p.Ef, met, tt.wantEf, tt.wantMet)
			}
		})
	}
}
