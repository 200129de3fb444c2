package storage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// WriteManifest lists a replica and writes what a static reader needs:
// every file with its level, TXIDs and size, the layout, and the latest
// TXID; ParseManifest reads it back.
func TestWriteManifest(t *testing.T) {
	ctx := context.Background()
	b, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := []storage.FileInfo{{Level: 9, MinTXID: 1, MaxTXID: 10}, {Level: 0, MinTXID: 11, MaxTXID: 11}, {Level: 0, MinTXID: 12, MaxTXID: 13}, {Level: 1, MinTXID: 1, MaxTXID: 10}}
	for _, f := range files {
		if err := b.Write(ctx, f, time.Now(), strings.NewReader(f.Name())); err != nil {
			t.Fatal(err)
		}
	}
	m, err := storage.WriteManifest(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := b.ReadMeta(ctx, storage.ManifestName, "")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["latest_txid"] != "000000000000000d" || raw["layout"] != "file" || raw["version"] != float64(1) {
		t.Errorf("manifest = %s", data)
	}
	back, err := storage.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.LatestTXID != 13 || len(back.All()) != 4 || len(m.Files) != 4 {
		t.Errorf("read back: latest %s, %d files", back.LatestTXID, len(back.All()))
	}
	if got := back.List(0, 12); len(got) != 1 || got[0].MinTXID != 12 || got[0].Size != int64(len(got[0].Name())) || got[0].ModTime.IsZero() {
		t.Errorf("List(0, from 12) = %+v", got)
	}
}

func TestParseManifestRefusesNonsense(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":        `{`,
		"unknown version": `{"version":2,"layout":"file","latest_txid":"0000000000000000","files":[]}`,
		"unknown layout":  `{"version":1,"layout":"ftp","latest_txid":"0000000000000000","files":[]}`,
		"bad level":       `{"version":1,"layout":"file","latest_txid":"0000000000000001","files":[{"level":12,"min_txid":"0000000000000001","max_txid":"0000000000000001","size":1}]}`,
		"min after max":   `{"version":1,"layout":"file","latest_txid":"0000000000000002","files":[{"level":0,"min_txid":"0000000000000003","max_txid":"0000000000000002","size":1}]}`,
		"wrong latest":    `{"version":1,"layout":"s3","latest_txid":"0000000000000009","files":[{"level":0,"min_txid":"0000000000000001","max_txid":"0000000000000002","size":1}]}`,
		"TXID not 16 hex": `{"version":1,"layout":"s3","latest_txid":"2","files":[]}`,
		"negative size":   `{"version":1,"layout":"file","latest_txid":"0000000000000001","files":[{"level":0,"min_txid":"0000000000000001","max_txid":"0000000000000001","size":-1}]}`,
	} {
		if _, err := storage.ParseManifest([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
