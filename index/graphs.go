package index

// neighbor is a graph search result: a position in the segment and its similarity.
type neighbor struct {
	ID         uint32
	Similarity float32
}
