package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Output modes of query and shell, named as in the sqlite3 shell. Each
// prints what sqlite3 prints in the same mode: NULL as an empty string
// (list, csv, line, table, box) or null (json), numbers as SQLite renders
// them, one result after another for a script of several statements.
const (
	modeList  = "list"  // columns joined by '|'
	modeCSV   = "csv"   // RFC 4180-style, quoted where sqlite3 quotes
	modeJSON  = "json"  // one JSON array of objects per statement
	modeLine  = "line"  // one "column = value" line per value
	modeTable = "table" // ASCII-art table (rows held until the end)
	modeBox   = "box"   // the same with box-drawing characters
)

var modes = []string{modeList, modeCSV, modeJSON, modeLine, modeTable, modeBox}

func validMode(m string) bool {
	for _, x := range modes {
		if x == m {
			return true
		}
	}
	return false
}

// printer writes results in one mode to w. Output is buffered; flush
// sends it after each statement (and the buffer fills long before a large
// result ends: rows are never held, except by the table modes, which must
// know every width first).
type printer struct {
	w      *bufio.Writer
	mode   string
	header bool // list and csv: print column names first

	cols  []string
	nrows int
	rows  [][]string // table and box only
}

func newPrinter(w io.Writer, mode string, header bool) *printer {
	return &printer{w: bufio.NewWriterSize(w, 64<<10), mode: mode, header: header}
}

func (p *printer) begin(cols []string) error {
	p.cols, p.nrows, p.rows = cols, 0, nil
	switch p.mode {
	case modeList:
		if p.header {
			p.w.WriteString(strings.Join(cols, "|"))
			p.w.WriteByte('\n')
		}
	case modeCSV:
		if p.header {
			for i, c := range cols {
				if i > 0 {
					p.w.WriteByte(',')
				}
				writeCSV(p.w, []byte(c), false)
			}
			p.w.WriteByte('\n')
		}
	case modeJSON:
		p.w.WriteByte('[')
	}
	return nil
}

func (p *printer) row(vals []value) error {
	first := p.nrows == 0
	p.nrows++
	if p.mode != modeJSON {
		// sqlite3 prints values as C strings: up to a NUL byte.
		for i := range vals {
			if n := bytes.IndexByte(vals[i].text, 0); n >= 0 {
				vals[i].text = vals[i].text[:n]
			}
		}
	}
	switch p.mode {
	case modeList:
		for i, v := range vals {
			if i > 0 {
				p.w.WriteByte('|')
			}
			p.w.Write(v.text)
		}
		p.w.WriteByte('\n')
	case modeCSV:
		for i, v := range vals {
			if i > 0 {
				p.w.WriteByte(',')
			}
			writeCSV(p.w, v.text, v.typ == typeNull)
		}
		p.w.WriteByte('\n')
	case modeJSON:
		if !first {
			p.w.WriteString(",\n")
		}
		p.w.WriteByte('{')
		for i, v := range vals {
			if i > 0 {
				p.w.WriteByte(',')
			}
			writeJSONString(p.w, []byte(p.cols[i]))
			p.w.WriteByte(':')
			writeJSONValue(p.w, v)
		}
		p.w.WriteByte('}')
	case modeLine:
		if !first {
			p.w.WriteByte('\n')
		}
		width := 5 // sqlite3's minimum
		for _, c := range p.cols {
			width = max(width, displayWidth(c))
		}
		for i, v := range vals {
			fmt.Fprintf(p.w, "%s%s = %s\n", strings.Repeat(" ", width-displayWidth(p.cols[i])), p.cols[i], v.text)
		}
	case modeTable, modeBox:
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = string(v.text)
		}
		p.rows = append(p.rows, cells)
	}
	if p.w.Buffered() >= 32<<10 {
		return p.w.Flush()
	}
	return nil
}

func (p *printer) end() error {
	switch p.mode {
	case modeJSON:
		p.w.WriteString("]\n")
	case modeTable, modeBox:
		writeTable(p.w, p.cols, p.rows, p.mode == modeBox)
		p.rows = nil
	}
	return p.w.Flush()
}

// flush writes out what is buffered (after a failed statement).
func (p *printer) flush() error { return p.w.Flush() }

// writeCSV writes one field the way sqlite3 -csv does: quoted when empty
// (so that an empty string differs from NULL, which is written as
// nothing), or when it holds a comma, a quote, an apostrophe, a space, a
// control character or a byte outside ASCII.
func writeCSV(w *bufio.Writer, b []byte, null bool) {
	if null {
		return
	}
	quote := len(b) == 0
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == ' ' || c == '"' || c == '\'' || c == ',' {
			quote = true
			break
		}
	}
	if !quote {
		w.Write(b)
		return
	}
	w.WriteByte('"')
	for _, c := range b {
		if c == '"' {
			w.WriteByte('"')
		}
		w.WriteByte(c)
	}
	w.WriteByte('"')
}

// writeJSONValue writes v as sqlite3 -json does: numbers bare (infinities
// as ±1e999, which JSON parsers read as infinite), text and blobs as
// strings, NULL as null.
func writeJSONValue(w *bufio.Writer, v value) {
	switch v.typ {
	case typeNull:
		w.WriteString("null")
	case typeInteger:
		w.Write(v.text)
	case typeFloat:
		switch s := string(v.text); s {
		case "Inf":
			w.WriteString("1e999")
		case "-Inf":
			w.WriteString("-1e999")
		default:
			w.Write(v.text)
		}
	default:
		writeJSONString(w, v.text)
	}
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes b as a JSON string. Bytes that are not UTF-8
// (in blobs) become U+FFFD, so the output is always valid JSON.
func writeJSONString(w *bufio.Writer, b []byte) {
	w.WriteByte('"')
	for _, r := range string(b) {
		switch {
		case r == '"':
			w.WriteString(`\"`)
		case r == '\\':
			w.WriteString(`\\`)
		case r == '\n':
			w.WriteString(`\n`)
		case r == '\r':
			w.WriteString(`\r`)
		case r == '\t':
			w.WriteString(`\t`)
		case r < 0x20:
			w.WriteString(`\u00`)
			w.WriteByte(hexDigits[r>>4])
			w.WriteByte(hexDigits[r&0xf])
		default:
			w.WriteRune(r) // utf8.RuneError for invalid bytes
		}
	}
	w.WriteByte('"')
}
