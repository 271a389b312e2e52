//! Elastic tab stops with the exact layout of Go's `text/tabwriter`, which pprof's
//! `tags` report and Go's `debug=1` profile texts are written through.
//!
//! Text is split into cells at tabs and into lines at newlines; a column block is
//! a run of consecutive lines that have a cell in that column, and every cell of a
//! block is padded to the block's widest cell plus `padding`. The last cell of a
//! line is not part of any column. A line without tabs ends all blocks.

#[derive(Clone, Copy, Default)]
struct Cell {
    size: usize,
    width: usize,
    htab: bool,
}

/// A Go-compatible tab writer that collects its output in a `String`.
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
    align_right: bool,
    buf: String,
    pos: usize,
    cell: Cell,
    lines: Vec<Vec<Cell>>,
    widths: Vec<usize>,
    out: String,
}

impl TabWriter {
    /// Like Go's `tabwriter.NewWriter(w, minwidth, tabwidth, padding, padchar, flags)`
    /// with flags 0 or `AlignRight`.
    pub fn new(minwidth: usize, tabwidth: usize, padding: usize, padchar: char, align_right: bool) -> Self {
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
            align_right,
            buf: String::new(),
            pos: 0,
            cell: Cell::default(),
            lines: vec![Vec::new()],
            widths: Vec::new(),
            out: String::new(),
        }
    }

    fn terminate_cell(&mut self, htab: bool) -> usize {
        self.cell.htab = htab;
        let line = self.lines.last_mut().expect("a current line always exists");
        line.push(self.cell);
        self.cell = Cell::default();
        line.len()
    }

    /// Writes text.
    pub fn write(&mut self, text: &str) {
        for ch in text.chars() {
            match ch {
                '\t' | '\x0b' | '\n' | '\x0c' => {
                    let ncells = self.terminate_cell(ch == '\t');
                    if ch == '\n' || ch == '\x0c' {
                        self.lines.push(Vec::new());
                        if ch == '\x0c' || ncells == 1 {
                            self.flush_lines();
                            if ch == '\x0c' {
                                self.out.push('\x0c');
                            }
                        }
                    }
                }
                c => {
                    self.buf.push(c);
                    self.cell.size += c.len_utf8();
                    self.cell.width += 1;
                }
            }
        }
    }

    fn flush_lines(&mut self) {
        self.format(0, 0, self.lines.len());
        self.buf.clear();
        self.pos = 0;
        self.cell = Cell::default();
        self.lines = vec![Vec::new()];
        self.widths.clear();
    }

    /// Flushes and returns everything written.
    pub fn finish(mut self) -> String {
        if self.cell.size > 0 {
            self.terminate_cell(false);
        }
        self.flush_lines();
        self.out
    }

    fn format(&mut self, pos0: usize, line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        let column = self.widths.len();
        let mut line0 = line0;
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            pos = self.write_lines(pos, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                let c = line[column];
                width = width.max(c.width + self.padding);
                this += 1;
            }
            self.widths.push(width);
            pos = self.format(pos, line0, this);
            self.widths.pop();
            line0 = this;
            this += 1;
        }
        self.write_lines(pos, line0, line1)
    }

    fn write_padding(&mut self, textw: usize, cellw: usize) {
        if self.padchar == '\t' {
            if self.tabwidth == 0 {
                return;
            }
            let cellw = cellw.div_ceil(self.tabwidth) * self.tabwidth;
            let n = cellw.saturating_sub(textw);
            for _ in 0..n.div_ceil(self.tabwidth) {
                self.out.push('\t');
            }
            return;
        }
        for _ in 0..cellw.saturating_sub(textw) {
            self.out.push(self.padchar);
        }
    }

    fn write_lines(&mut self, pos0: usize, line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        for i in line0..line1 {
            let ncells = self.lines[i].len();
            for j in 0..ncells {
                let c = self.lines[i][j];
                if c.size == 0 {
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j]);
                    }
                } else if !self.align_right {
                    self.out.push_str(&self.buf[pos..pos + c.size]);
                    pos += c.size;
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j]);
                    }
                } else {
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j]);
                    }
                    self.out.push_str(&self.buf[pos..pos + c.size]);
                    pos += c.size;
                }
            }
            if i + 1 == self.lines.len() {
                let end = pos + self.cell.size;
                self.out.push_str(&self.buf[pos..end]);
                pos = end;
            } else {
                self.out.push('\n');
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_aligned_columns() {
        let mut w = TabWriter::new(0, 0, 1, ' ', true);
        w.write("key:\t Total 4.5s\n \t3.2s (70.73%):\t login\n \t1.3s (29.27%):\t search\n\n");
        assert_eq!(
            w.finish(),
            " key: Total 4.5s\n      3.2s (70.73%): login\n      1.3s (29.27%): search\n\n"
        );
    }

    #[test]
    fn tab_padding_like_go_debug_output() {
        let mut w = TabWriter::new(1, 8, 1, '\t', false);
        w.write("#\t0x472f91\tsync.(*WaitGroup).Wait+0x51\t/x.go:1\n#\t0x67161c\tmain.main+0x29c\t/y.go:2\n");
        assert_eq!(
            w.finish(),
            "#\t0x472f91\tsync.(*WaitGroup).Wait+0x51\t/x.go:1\n#\t0x67161c\tmain.main+0x29c\t\t\t/y.go:2\n"
        );
    }
}
