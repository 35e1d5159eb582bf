package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	recInsert byte = 1
	// recDelete deletes one id. Indexes before issue 13 logged one per deleted face; replay still
	// reads them, nothing writes them any more.
	recDelete byte = 2
	// recDeleteBatch deletes up to maxBatchIDs ids under one LSN.
	recDeleteBatch byte = 3

	walPrefix = "wal-"
	walSuffix = ".log"
	// deleteSize, insertFixed and deleteBatchFixed are the body sizes: kind, lsn, id (+ gallery
	// for inserts); kind, lsn, id count for a batch, whose ids follow.
	deleteSize       = 1 + 8 + 8
	insertFixed      = deleteSize + 8
	deleteBatchFixed = 1 + 8 + 4
	// maxBatchIDs bounds one delete record to 512 KiB; a larger batch is several records in one
	// fsynced append.
	maxBatchIDs = 1 << 16
	// maxRecord bounds a record's body so a corrupt length cannot make replay allocate
	// gigabytes: an insert of 4096 dimensions (the most Config allows) or a full delete batch.
	maxRecord = max(insertFixed+4*4096, deleteBatchFixed+8*maxBatchIDs)
)

// record is one logged operation.
type record struct {
	kind    byte
	lsn     uint64 // log sequence number: strictly increasing over the index's life
	id      uint64 // recInsert, recDelete
	gallery uint64
	vector  []float32
	ids     []uint64 // recDeleteBatch
}

// wal is the write-ahead log: numbered files in one directory, appended and fsynced. Not safe for
// concurrent use: the Index serialises appends under its write lock.
type wal struct {
	dir  string
	dim  int
	num  uint64 // number of the file being appended
	f    *os.File
	w    *bufio.Writer
	body []byte
}

func walName(num uint64) string { return fmt.Sprintf("%s%020d%s", walPrefix, num, walSuffix) }

// walFiles lists the numbers of the WAL files in dir, ascending.
func walFiles(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("index: wal: %w", err)
	}
	var nums []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, walPrefix) || !strings.HasSuffix(name, walSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, walPrefix), walSuffix), 10, 64)
		if err != nil {
			continue
		}
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums, nil
}

// openWAL opens file num for appending, creating it if needed.
func openWAL(dir string, num uint64, dim int) (*wal, error) {
	f, err := os.OpenFile(filepath.Join(dir, walName(num)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("index: wal: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &wal{dir: dir, dim: dim, num: num, f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// append writes the records and fsyncs them: when it returns nil, they survive a crash.
func (l *wal) append(recs []record) error {
	for _, r := range recs {
		l.body = appendFrame(l.body[:0], r)
		if _, err := l.w.Write(l.body); err != nil {
			return fmt.Errorf("index: wal: %w", err)
		}
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("index: wal: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("index: wal: fsync: %w", err)
	}
	return nil
}

func (l *wal) close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.w.Flush()
	if serr := l.f.Sync(); err == nil {
		err = serr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// appendFrame appends r as the log stores it: the body's length and CRC-32C, then the body.
func appendFrame(b []byte, r record) []byte {
	start := len(b)
	b = encodeRecord(append(b, make([]byte, 8)...), r)
	body := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

func encodeRecord(b []byte, r record) []byte {
	b = append(b, r.kind)
	b = binary.LittleEndian.AppendUint64(b, r.lsn)
	if r.kind == recDeleteBatch {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.ids)))
		for _, id := range r.ids {
			b = binary.LittleEndian.AppendUint64(b, id)
		}
		return b
	}
	b = binary.LittleEndian.AppendUint64(b, r.id)
	if r.kind == recInsert {
		b = binary.LittleEndian.AppendUint64(b, r.gallery)
		for _, x := range r.vector {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

// errTornTail marks the end of the valid part of a log: the rest was being written at a crash
// (or was damaged since).
var errTornTail = fmt.Errorf("%w: torn or corrupt wal tail", ErrCorrupt)

// replayWAL calls fn for every valid record of file num, in order. A torn or corrupt record ends
// the file: the file is truncated there so later appends do not follow garbage. It returns the
// number of records replayed.
func replayWAL(dir string, num uint64, dim int, fn func(record) error) (int, error) {
	path := filepath.Join(dir, walName(num))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("index: wal: %w", err)
	}
	defer f.Close()
	valid, n, err := readWAL(f, dim, fn)
	if errors.Is(err, errTornTail) {
		// Everything before valid was acknowledged; what follows never was.
		if terr := f.Truncate(valid); terr != nil {
			return n, fmt.Errorf("index: wal: truncate torn tail: %w", terr)
		}
		return n, f.Sync()
	}
	return n, err
}

// readWAL calls fn for every valid record in r, in order, and returns the length of the valid
// prefix and the number of records in it. A torn or corrupt record ends the log with errTornTail
// (an ErrCorrupt); an error from fn ends it with that error.
func readWAL(r io.Reader, dim int, fn func(record) error) (valid int64, n int, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	body := make([]byte, 0, insertFixed+4*dim)
	for {
		rec, size, err := readRecord(br, dim, &body)
		if err == io.EOF {
			return valid, n, nil
		}
		if err != nil {
			return valid, n, err
		}
		if err := fn(rec); err != nil {
			return valid, n, err
		}
		valid += size
		n++
	}
}

func readRecord(r *bufio.Reader, dim int, body *[]byte) (record, int64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return record{}, 0, io.EOF
		}
		return record{}, 0, errTornTail
	}
	size := binary.LittleEndian.Uint32(hdr[0:4])
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	if size < deleteBatchFixed || size > maxRecord {
		return record{}, 0, errTornTail
	}
	if cap(*body) < int(size) {
		*body = make([]byte, size)
	}
	*body = (*body)[:size]
	if _, err := io.ReadFull(r, *body); err != nil {
		return record{}, 0, errTornTail
	}
	b := *body
	if crc32.Checksum(b, castagnoli) != sum {
		return record{}, 0, errTornTail
	}
	rec := record{kind: b[0], lsn: binary.LittleEndian.Uint64(b[1:9])}
	switch {
	case rec.kind == recDelete && size == deleteSize:
		rec.id = binary.LittleEndian.Uint64(b[9:17])
	case rec.kind == recInsert && int(size) == insertFixed+4*dim:
		rec.id = binary.LittleEndian.Uint64(b[9:17])
		rec.gallery = binary.LittleEndian.Uint64(b[17:25])
		rec.vector = make([]float32, dim)
		for i := range rec.vector {
			rec.vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[insertFixed+4*i:]))
		}
	case rec.kind == recDeleteBatch:
		n := binary.LittleEndian.Uint32(b[9:13])
		if n == 0 || n > maxBatchIDs || int(size) != deleteBatchFixed+8*int(n) {
			return record{}, 0, errTornTail
		}
		rec.ids = make([]uint64, n)
		for i := range rec.ids {
			rec.ids[i] = binary.LittleEndian.Uint64(b[deleteBatchFixed+8*i:])
		}
	default:
		return record{}, 0, errTornTail
	}
	return rec, int64(8 + size), nil
}

// syncDir fsyncs a directory so a file created or renamed in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("index: fsync %s: %w", dir, err)
	}
	return nil
}
