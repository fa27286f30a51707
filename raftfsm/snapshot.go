package raftfsm

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Snapshot stream layout (format 1), written by Persist:
//
//	"ringhook-state-snapshot\n"
//	header JSON line: {"format":1,"applied_index":N,"applied_time":"..."}
//	for every bucket in name order:
//	  'B' uvarint(len) name
//	  for every key in key order: 'K' uvarint(len) key uvarint(len) value
//	'Z' then the CRC-32C (Castagnoli) of every byte before it, big-endian
//
// The stream holds the logical state only, in key order, so two state
// machines that applied the same commands write identical bytes whatever
// their batch boundaries or bbolt page layout.
const (
	snapshotMagic  = "ringhook-state-snapshot\n"
	snapshotFormat = 1

	recordBucket = 'B'
	recordKey    = 'K'
	recordEnd    = 'Z'

	// maxSnapshotValue bounds one value read back from a snapshot; a larger
	// length means a corrupt stream.
	maxSnapshotValue = 64 << 20

	// restoreBatch is the number of keys written per transaction while
	// restoring, to bound the memory of one bbolt transaction.
	restoreBatch = 10000
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// snapshotHeader is the JSON line after the magic.
type snapshotHeader struct {
	Format       int       `json:"format"`
	AppliedIndex uint64    `json:"applied_index"`
	AppliedTime  time.Time `json:"applied_time,omitzero"`
}

// Snapshot opens a read transaction and returns at once; Persist streams
// the state from that transaction while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, errors.New("snapshot: state machine is closed")
	}
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: begin read transaction: %w", err)
	}
	return &fsmSnapshot{tx: tx, logger: f.logger}, nil
}

type fsmSnapshot struct {
	tx     *bolt.Tx
	logger *slog.Logger
}

// Persist writes the snapshot stream to the sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(s.tx, sink); err != nil {
		s.logger.Error("snapshot failed", "snapshot_id", sink.ID(), "error", err)
		sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("snapshot: close sink %s: %w", sink.ID(), err)
	}
	return nil
}

// Release ends the read transaction.
func (s *fsmSnapshot) Release() {
	_ = s.tx.Rollback()
}

// writeSnapshot writes the stream for the state in tx to w.
func writeSnapshot(tx *bolt.Tx, w io.Writer) error {
	crc := crc32.New(crcTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)

	header, err := json.Marshal(snapshotHeader{Format: snapshotFormat, AppliedIndex: appliedIndex(tx), AppliedTime: appliedTime(tx)})
	if err != nil {
		return fmt.Errorf("snapshot: encode header: %w", err)
	}
	bw.WriteString(snapshotMagic)
	bw.Write(header)
	bw.WriteByte('\n')

	var lenBuf [binary.MaxVarintLen64]byte
	writeBytes := func(b []byte) {
		n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
		bw.Write(lenBuf[:n])
		bw.Write(b)
	}
	err = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		bw.WriteByte(recordBucket)
		writeBytes(name)
		return b.ForEach(func(k, v []byte) error {
			bw.WriteByte(recordKey)
			writeBytes(k)
			writeBytes(v)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("snapshot: read state: %w", err)
	}
	bw.WriteByte(recordEnd)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("snapshot: write checksum: %w", err)
	}
	return nil
}

// Restore replaces the state with a snapshot stream. A snapshot at or
// below the local applied index is older than the state file, which
// outlives restarts, so the local state is kept; Raft restores its latest
// snapshot at every start. Otherwise the stream is written to a new file
// that then replaces state.db.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()

	r := &crcReader{r: bufio.NewReaderSize(rc, 256<<10), crc: crc32.New(crcTable)}
	header, err := readSnapshotHeader(r)
	if err != nil {
		return err
	}
	local := f.AppliedIndex()
	if header.AppliedIndex <= local {
		f.logger.Info("snapshot is not newer than the state file; keeping the local state",
			"snapshot_index", header.AppliedIndex, "applied_index", local)
		_, _ = io.Copy(io.Discard, rc)
		return nil
	}

	path := filepath.Join(f.dir, stateFile)
	tmp := path + ".restore"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: remove stale %s: %w", tmp, err)
	}
	if err := buildStateFile(tmp, r); err != nil {
		os.Remove(tmp)
		return err
	}

	if err := f.swapStateFile(tmp, path); err != nil {
		return err
	}
	f.logger.Info("state restored from snapshot", "applied_index", header.AppliedIndex)
	f.signalChanged()
	return nil
}

// swapStateFile replaces the open state file with the file at tmp.
func (f *FSM) swapStateFile(tmp, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			return fmt.Errorf("restore: close %s: %w", path, err)
		}
		f.db = nil
	}
	renameErr := os.Rename(tmp, path)
	if renameErr == nil {
		renameErr = syncDir(f.dir)
	}
	db, err := openDB(path)
	if err != nil {
		return fmt.Errorf("restore: reopen state file: %w", err)
	}
	db.NoSync = f.noSync
	f.db = db
	if renameErr != nil {
		return fmt.Errorf("restore: replace %s: %w", path, renameErr)
	}
	return db.View(func(tx *bolt.Tx) error {
		f.appliedIndex.Store(appliedIndex(tx))
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readSnapshotHeader(r *crcReader) (snapshotHeader, error) {
	var h snapshotHeader
	magic := make([]byte, len(snapshotMagic))
	if err := r.readFull(magic); err != nil || string(magic) != snapshotMagic {
		return h, fmt.Errorf("restore: not a ringhook state snapshot (bad magic, read error %v)", err)
	}
	line, err := r.readLine()
	if err != nil {
		return h, fmt.Errorf("restore: read header: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("restore: decode header: %w", err)
	}
	if h.Format != snapshotFormat {
		return h, fmt.Errorf("restore: snapshot format %d is not supported by this version (it reads format %d); upgrade this node", h.Format, snapshotFormat)
	}
	return h, nil
}

// buildStateFile writes the records of a snapshot stream into a new bbolt
// file at path and checks the trailing checksum.
func buildStateFile(path string, r *crcReader) error {
	db, err := openDB(path)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(allBuckets))
	for _, name := range allBuckets {
		known[string(name)] = true
	}

	var tx *bolt.Tx
	var bucket []byte
	pending := 0
	fail := func(err error) error {
		if tx != nil {
			tx.Rollback()
		}
		db.Close()
		return fmt.Errorf("restore: %w", err)
	}
	for {
		if tx == nil {
			if tx, err = db.Begin(true); err != nil {
				return fail(err)
			}
		}
		kind, err := r.readByte()
		if err != nil {
			return fail(fmt.Errorf("read record: %w", err))
		}
		switch kind {
		case recordBucket:
			name, err := r.readBytes(bolt.MaxKeySize)
			if err != nil {
				return fail(fmt.Errorf("read bucket name: %w", err))
			}
			if !known[string(name)] {
				return fail(fmt.Errorf("unknown bucket %q; the snapshot comes from a newer version, upgrade this node", name))
			}
			bucket = name
		case recordKey:
			if bucket == nil {
				return fail(errors.New("key record before any bucket record"))
			}
			k, err := r.readBytes(bolt.MaxKeySize)
			if err != nil {
				return fail(fmt.Errorf("read key in bucket %s: %w", bucket, err))
			}
			v, err := r.readBytes(maxSnapshotValue)
			if err != nil {
				return fail(fmt.Errorf("read value in bucket %s: %w", bucket, err))
			}
			b := tx.Bucket(bucket)
			b.FillPercent = 0.9
			if err := b.Put(k, v); err != nil {
				return fail(fmt.Errorf("store key in bucket %s: %w", bucket, err))
			}
			if pending++; pending == restoreBatch {
				if err := tx.Commit(); err != nil {
					return fail(err)
				}
				tx, pending = nil, 0
			}
		case recordEnd:
			want := r.crc.Sum32()
			var sum [4]byte
			if _, err := io.ReadFull(r.r, sum[:]); err != nil {
				return fail(fmt.Errorf("read checksum: %w", err))
			}
			if got := binary.BigEndian.Uint32(sum[:]); got != want {
				return fail(fmt.Errorf("checksum mismatch: stream has %08x, content hashes to %08x; the snapshot is corrupt", got, want))
			}
			if err := tx.Commit(); err != nil {
				tx = nil
				return fail(err)
			}
			if err := db.Close(); err != nil {
				return fmt.Errorf("restore: close %s: %w", path, err)
			}
			return nil
		default:
			return fail(fmt.Errorf("unknown record kind %q; the snapshot is corrupt", kind))
		}
	}
}

// crcReader reads a snapshot stream and hashes every byte it returns.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
}

func (c *crcReader) readByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
	}
	return b, err
}

func (c *crcReader) readFull(p []byte) error {
	n, err := io.ReadFull(c.r, p)
	c.crc.Write(p[:n])
	return err
}

func (c *crcReader) readLine() ([]byte, error) {
	line, err := c.r.ReadBytes('\n')
	c.crc.Write(line)
	return line, err
}

// readBytes reads a uvarint length and that many bytes.
func (c *crcReader) readBytes(max int) ([]byte, error) {
	n, err := binary.ReadUvarint(byteReader{c})
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("length %d exceeds the limit of %d; the snapshot is corrupt", n, max)
	}
	p := make([]byte, n)
	if err := c.readFull(p); err != nil {
		return nil, err
	}
	return p, nil
}

type byteReader struct{ c *crcReader }

func (b byteReader) ReadByte() (byte, error) { return b.c.readByte() }
