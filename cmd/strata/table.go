package main

import (
	"bufio"
	"strings"

	"github.com/mattn/go-runewidth"
)

// displayWidth is how many terminal columns s takes (East Asian wide
// characters take two), so that table columns line up.
func displayWidth(s string) int { return runewidth.StringWidth(s) }

// tableChars are the drawing characters of one table style.
type tableChars struct {
	h, v       string // horizontal and vertical lines
	tl, tm, tr string // top: left corner, junction, right corner
	ml, mm, mr string // line under the header
	bl, bm, br string // bottom
}

var (
	asciiTable = tableChars{h: "-", v: "|", tl: "+", tm: "+", tr: "+", ml: "+", mm: "+", mr: "+", bl: "+", bm: "+", br: "+"}
	boxTable   = tableChars{h: "─", v: "│", tl: "┌", tm: "┬", tr: "┐", ml: "├", mm: "┼", mr: "┤", bl: "└", bm: "┴", br: "┘"}
)

// writeTable draws cols and rows like sqlite3 -table (or -box): column
// names centred, values left-aligned, a value with newlines on several
// lines of its cell, other control characters shown as '?'.
func writeTable(w *bufio.Writer, cols []string, rows [][]string, box bool) {
	tc := asciiTable
	if box {
		tc = boxTable
	}
	split := func(s string) []string {
		return strings.Split(strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\n' || r == 0x7f {
				return '?'
			}
			return r
		}, s), "\n")
	}
	widths := make([]int, len(cols))
	head := make([][]string, len(cols))
	for i, c := range cols {
		head[i] = split(c)
		for _, l := range head[i] {
			widths[i] = max(widths[i], displayWidth(l))
		}
	}
	cells := make([][][]string, len(rows))
	for r, row := range rows {
		cells[r] = make([][]string, len(row))
		for i, v := range row {
			cells[r][i] = split(v)
			for _, l := range cells[r][i] {
				widths[i] = max(widths[i], displayWidth(l))
			}
		}
	}
	rule := func(l, m, r string) {
		w.WriteString(l)
		for i, wd := range widths {
			if i > 0 {
				w.WriteString(m)
			}
			w.WriteString(strings.Repeat(tc.h, wd+2))
		}
		w.WriteString(r)
		w.WriteByte('\n')
	}
	line := func(cell [][]string, center bool) {
		n := 1
		for _, c := range cell {
			n = max(n, len(c))
		}
		for k := range n {
			w.WriteString(tc.v)
			for i, wd := range widths {
				s := ""
				if k < len(cell[i]) {
					s = cell[i][k]
				}
				pad := wd - displayWidth(s)
				left := 0
				if center {
					left = pad / 2
				}
				w.WriteByte(' ')
				w.WriteString(strings.Repeat(" ", left))
				w.WriteString(s)
				w.WriteString(strings.Repeat(" ", pad-left))
				w.WriteByte(' ')
				w.WriteString(tc.v)
			}
			w.WriteByte('\n')
		}
	}
	rule(tc.tl, tc.tm, tc.tr)
	line(head, true)
	rule(tc.ml, tc.mm, tc.mr)
	for _, row := range cells {
		line(row, false)
	}
	rule(tc.bl, tc.bm, tc.br)
}
