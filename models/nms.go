package models

import (
	"sort"

	"github.com/facematch/facematch/face"
)

// iou is the intersection over union of two boxes.
func iou(a, b face.Box) float32 {
	x1 := max(a.X, b.X)
	y1 := max(a.Y, b.Y)
	x2 := min(a.X+a.W, b.X+b.W)
	y2 := min(a.Y+a.H, b.Y+b.H)
	if x2 <= x1 || y2 <= y1 {
		return 0
	}
	inter := (x2 - x1) * (y2 - y1)
	return inter / (a.W*a.H + b.W*b.H - inter)
}

// nms keeps the highest-scoring detection of every group overlapping by more than threshold
// IoU, returned by descending score.
func nms(dets []face.Detection, threshold float32) []face.Detection {
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	kept := dets[:0:0]
	for _, d := range dets {
		keep := true
		for _, k := range kept {
			if iou(d.Box, k.Box) > threshold {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, d)
		}
	}
	return kept
}
