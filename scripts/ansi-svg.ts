// Renders a tmux `capture-pane -e` screen (text with SGR escapes) as an SVG
// picture, so the readme shows what the terminal showed, colours included.

type Style = {fg?: string; bg?: string; bold?: boolean; dim?: boolean; inverse?: boolean};

const palette = ['#1e1e1e', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5'];
const bright = ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];
const defaultFg = '#d4d4d4';
const defaultBg = '#1e1e1e';

function color256(n: number): string {
	if (n < 8) return palette[n]!;
	if (n < 16) return bright[n - 8]!;
	if (n < 232) {
		const v = n - 16;
		const c = (x: number) => (x === 0 ? 0 : 55 + x * 40);
		return `rgb(${c(Math.floor(v / 36))},${c(Math.floor(v / 6) % 6)},${c(v % 6)})`;
	}
	const g = 8 + (n - 232) * 10;
	return `rgb(${g},${g},${g})`;
}

function applySgr(style: Style, params: number[]): Style {
	const s = {...style};
	for (let i = 0; i < params.length; i++) {
		const p = params[i]!;
		if (p === 0) Object.assign(s, {fg: undefined, bg: undefined, bold: false, dim: false, inverse: false});
		else if (p === 1) s.bold = true;
		else if (p === 2) s.dim = true;
		else if (p === 7) s.inverse = true;
		else if (p === 22) s.bold = s.dim = false;
		else if (p === 27) s.inverse = false;
		else if (p >= 30 && p <= 37) s.fg = palette[p - 30];
		else if (p >= 90 && p <= 97) s.fg = bright[p - 90];
		else if (p === 39) s.fg = undefined;
		else if (p >= 40 && p <= 47) s.bg = palette[p - 40];
		else if (p >= 100 && p <= 107) s.bg = bright[p - 100];
		else if (p === 49) s.bg = undefined;
		else if ((p === 38 || p === 48) && params[i + 1] === 5) {
			const c = color256(params[i + 2] ?? 0);
			if (p === 38) s.fg = c;
			else s.bg = c;
			i += 2;
		} else if ((p === 38 || p === 48) && params[i + 1] === 2) {
			const c = `rgb(${params[i + 2] ?? 0},${params[i + 3] ?? 0},${params[i + 4] ?? 0})`;
			if (p === 38) s.fg = c;
			else s.bg = c;
			i += 4;
		}
	}
	return s;
}

export type Cell = {ch: string; style: Style};

/** One row of cells per line; escapes other than SGR are dropped. */
export function parseAnsi(text: string): Cell[][] {
	const rows: Cell[][] = [];
	for (const line of text.replace(/\n$/, '').split('\n')) {
		const cells: Cell[] = [];
		let style: Style = {};
		const re = /\u001B\[([0-9;]*)([A-Za-z])/g;
		let last = 0;
		for (let m = re.exec(line); ; m = re.exec(line)) {
			const end = m ? m.index : line.length;
			for (const ch of line.slice(last, end)) if (ch >= ' ') cells.push({ch, style});
			if (!m) break;
			if (m[2] === 'm') style = applySgr(style, m[1] ? m[1].split(';').map(Number) : [0]);
			last = re.lastIndex;
		}
		rows.push(cells);
	}
	return rows;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function ansiToSvg(text: string, options: {columns?: number; title?: string} = {}): string {
	const rows = parseAnsi(text);
	const columns = options.columns ?? Math.max(1, ...rows.map(r => r.length));
	const cw = 8.4;
	const lh = 17;
	const pad = 10;
	const width = Math.ceil(columns * cw + pad * 2);
	const height = rows.length * lh + pad * 2;
	const out: string[] = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">`,
		options.title ? `<title>${xml(options.title)}</title>` : '',
		`<rect width="100%" height="100%" fill="${defaultBg}"/>`,
	];
	rows.forEach((cells, y) => {
		const top = pad + y * lh;
		// runs of one style become one rect and one tspan
		let x = 0;
		const spans: string[] = [];
		while (x < cells.length) {
			const start = x;
			const st = cells[x]!.style;
			let chunk = '';
			while (x < cells.length && cells[x]!.style === st) chunk += cells[x++]!.ch;
			const fg = st.inverse ? (st.bg ?? defaultBg) : (st.fg ?? defaultFg);
			const bg = st.inverse ? (st.fg ?? defaultFg) : st.bg;
			const left = pad + start * cw;
			if (bg) out.push(`<rect x="${left.toFixed(1)}" y="${top}" width="${(chunk.length * cw).toFixed(1)}" height="${lh}" fill="${bg}"/>`);
			if (chunk.trim())
				spans.push(
					`<tspan x="${left.toFixed(1)}" fill="${fg}"${st.bold ? ' font-weight="bold"' : ''}${st.dim ? ' fill-opacity="0.6"' : ''}>${xml(chunk)}</tspan>`,
				);
		}
		if (spans.length) out.push(`<text y="${top + 13}" xml:space="preserve">${spans.join('')}</text>`);
	});
	out.push('</svg>');
	return `${out.filter(Boolean).join('\n')}\n`;
}
