package main

import "strings"

// Directions a line leaves a cell by; a cell's box-drawing character is
// chosen from the set, so that lines crossing or meeting join (┼, ├, ┬).
const (
	up = 1 << iota
	down
	left
	right
)

var joints = map[int]rune{
	left | right: '─', left: '─', right: '─',
	up | down: '│', up: '│', down: '│',
	down | right: '┌', down | left: '┐', up | right: '└', up | left: '┘',
	up | down | right: '├', up | down | left: '┤',
	left | right | down: '┬', left | right | up: '┴',
	up | down | left | right: '┼',
}

// canvas is a grid of text and lines. Text written on a cell hides the
// lines through it.
type canvas struct {
	lines map[[2]int]int
	text  map[[2]int]rune
	w, h  int
}

func newCanvas() *canvas {
	return &canvas{lines: map[[2]int]int{}, text: map[[2]int]rune{}}
}

func (c *canvas) grow(x, y int) {
	if x+1 > c.w {
		c.w = x + 1
	}
	if y+1 > c.h {
		c.h = y + 1
	}
}

// hline draws from (x1,y) to (x2,y), x1 < x2.
func (c *canvas) hline(x1, x2, y int) {
	for x := x1; x <= x2; x++ {
		d := 0
		if x > x1 {
			d |= left
		}
		if x < x2 {
			d |= right
		}
		c.lines[[2]int{x, y}] |= d
		c.grow(x, y)
	}
}

// vline draws from (x,y1) to (x,y2), y1 < y2.
func (c *canvas) vline(x, y1, y2 int) {
	for y := y1; y <= y2; y++ {
		d := 0
		if y > y1 {
			d |= up
		}
		if y < y2 {
			d |= down
		}
		c.lines[[2]int{x, y}] |= d
		c.grow(x, y)
	}
}

// box draws a rectangle with its title on the top edge: ┌─ title ───┐.
func (c *canvas) box(x, y, w, h int, title string) {
	c.hline(x, x+w-1, y)
	c.hline(x, x+w-1, y+h-1)
	c.vline(x, y, y+h-1)
	c.vline(x+w-1, y, y+h-1)
	if title != "" {
		c.write(x+2, y, " "+title+" ")
	}
}

func (c *canvas) write(x, y int, s string) {
	for i, r := range []rune(s) {
		c.text[[2]int{x + i, y}] = r
		c.grow(x+i, y)
	}
}

// String renders the canvas, each line indented by indent and without
// trailing blanks.
func (c *canvas) String(indent string) string {
	var b strings.Builder
	for y := 0; y < c.h; y++ {
		row := make([]rune, c.w)
		for x := range row {
			row[x] = ' '
			if d := c.lines[[2]int{x, y}]; d != 0 {
				row[x] = joints[d]
			}
			if r, ok := c.text[[2]int{x, y}]; ok {
				row[x] = r
			}
		}
		line := strings.TrimRight(string(row), " ")
		if line != "" {
			line = indent + line
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
