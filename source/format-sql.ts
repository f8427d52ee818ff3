// A small SQL layout for reading a query in a terminal: clauses start lines,
// select lists and AND/OR conditions get one item per line, subqueries are
// indented. Only whitespace between tokens changes; strings, quoted names,
// comments and dollar-quoted bodies are kept byte for byte. Query text from
// pg_stat_activity is cut at track_activity_query_size, so an unterminated
// string or comment simply runs to the end.

type Token = {
	kind: 'word' | 'string' | 'comment' | 'open' | 'close' | 'comma' | 'semicolon' | 'other';
	text: string;
	/** whitespace stood before it in the source: never glue or split what the author wrote together */
	space: boolean;
};

function readUntil(sql: string, start: number, end: string): number {
	const i = sql.indexOf(end, start);
	return i === -1 ? sql.length : i + end.length;
}

function readQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
	let i = start + 1;
	while (i < sql.length) {
		const c = sql[i];
		if (backslash && c === '\\') {
			i += 2;
			continue;
		}
		if (c === quote) {
			if (sql[i + 1] === quote) {
				i += 2;
				continue;
			}
			return i + 1;
		}
		i++;
	}
	return sql.length;
}

function readBlockComment(sql: string, start: number): number {
	let depth = 0;
	let i = start;
	while (i < sql.length) {
		if (sql.startsWith('/*', i)) {
			depth++;
			i += 2;
		} else if (sql.startsWith('*/', i)) {
			depth--;
			i += 2;
			if (depth === 0) return i;
		} else i++;
	}
	return sql.length;
}

export function tokenize(sql: string): Token[] {
	const tokens: Token[] = [];
	let i = 0;
	let space = false;
	while (i < sql.length) {
		const c = sql[i]!;
		if (/\s/.test(c)) {
			i++;
			space = true;
			continue;
		}
		let end: number;
		let kind: Token['kind'] = 'other';
		const dollar = c === '$' ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64)) : null;
		if (sql.startsWith('--', i)) {
			end = readUntil(sql, i, '\n');
			kind = 'comment';
		} else if (sql.startsWith('/*', i)) {
			end = readBlockComment(sql, i);
			kind = 'comment';
		} else if (dollar) {
			end = readUntil(sql, i + dollar[0].length, dollar[0]);
			kind = 'string';
		} else if (c === "'") {
			const escaped = !space && tokens.at(-1)?.text.toUpperCase() === 'E';
			end = readQuoted(sql, i, "'", escaped);
			kind = 'string';
		} else if (c === '"') {
			end = readQuoted(sql, i, '"', false);
			kind = 'word';
		} else if (/[A-Za-z0-9_$.]/.test(c) || c.charCodeAt(0) > 127) {
			end = i + 1;
			while (end < sql.length && (/[A-Za-z0-9_$.]/.test(sql[end]!) || sql.charCodeAt(end) > 127)) end++;
			kind = 'word';
		} else if (c === '(' || c === ')' || c === ',' || c === ';') {
			end = i + 1;
			kind = c === '(' ? 'open' : c === ')' ? 'close' : c === ',' ? 'comma' : 'semicolon';
		} else {
			end = i + 1;
			while (end < sql.length && /[-+*/<>=~!@#%^&|`?:]/.test(sql[end]!) && /[-+*/<>=~!@#%^&|`?:]/.test(c)) {
				if (sql.startsWith('--', end) || sql.startsWith('/*', end)) break;
				end++;
			}
		}
		tokens.push({kind, text: sql.slice(i, end), space});
		space = false;
		i = end;
	}
	return tokens;
}

// Clauses that start a line at their nesting level; the longest phrase wins.
const clauses = [
	'WITH',
	'SELECT',
	'FROM',
	'WHERE',
	'GROUP BY',
	'HAVING',
	'WINDOW',
	'ORDER BY',
	'LIMIT',
	'OFFSET',
	'FETCH',
	'FOR UPDATE',
	'FOR SHARE',
	'UNION ALL',
	'UNION',
	'INTERSECT',
	'EXCEPT',
	'INSERT INTO',
	'VALUES',
	'UPDATE',
	'SET',
	'DELETE FROM',
	'ON CONFLICT',
	'RETURNING',
	'LEFT OUTER JOIN',
	'RIGHT OUTER JOIN',
	'FULL OUTER JOIN',
	'LEFT JOIN',
	'RIGHT JOIN',
	'FULL JOIN',
	'INNER JOIN',
	'CROSS JOIN',
	'JOIN',
].map(c => c.split(' '));

/** Clauses whose comma-separated items each get a line. */
const listClauses = new Set(['SELECT', 'SET', 'GROUP BY', 'ORDER BY', 'RETURNING', 'WITH']);

function clauseAt(tokens: Token[], i: number): string | undefined {
	for (const words of clauses) {
		if (words.every((w, k) => tokens[i + k]?.kind === 'word' && tokens[i + k]!.text.toUpperCase() === w)) return words.join(' ');
	}
	return undefined;
}

/** Pretty-printed SQL, `indent` spaces per level; a statement that fits in `width` stays on one line. */
export function formatSql(sql: string, indent = 2, width = 80): string {
	const tokens = tokenize(sql);
	if (!tokens.some(t => t.kind === 'comment' || t.kind === 'semicolon')) {
		const flat = tokens.map((t, i) => (i > 0 && t.space ? ' ' : '') + t.text).join('');
		if (flat.length <= width) return flat;
	}
	const lines: string[] = [];
	let line = '';
	let level = 0;
	// per open paren: the level and clause to return to, and whether it opens a subquery
	const parens: Array<{level: number; clause: string | undefined; sub: boolean; closeAt: number}> = [];
	let clause: string | undefined;
	let between = false;
	const newline = (n: number) => {
		if (line.trim()) lines.push(line.trimEnd());
		line = ' '.repeat(Math.max(0, n) * indent);
	};
	const append = (t: Token) => {
		if (t.space && line.trim()) line += ' ';
		line += t.text;
	};
	const lineLevel = () => Math.floor((line.length - line.trimStart().length) / indent);
	// breaks apply at the clause's own depth, not inside a function call or a parenthesised condition
	const atClauseDepth = () => parens.length === 0 || parens.at(-1)!.sub;

	for (let i = 0; i < tokens.length; i++) {
		const t = tokens[i]!;
		const upper = t.text.toUpperCase();
		const found = t.kind === 'word' ? clauseAt(tokens, i) : undefined;
		if (found) {
			const words = found.split(' ').length;
			newline(level);
			line += tokens
				.slice(i, i + words)
				.map(x => x.text)
				.join(' ');
			i += words - 1;
			clause = found;
			between = false;
			if (listClauses.has(found) || found === 'WHERE' || found === 'HAVING') newline(level + 1);
			continue;
		}
		if (t.kind === 'word' && upper === 'BETWEEN') between = true;
		else if (t.kind === 'word' && upper === 'AND' && between) between = false;
		else if (t.kind === 'word' && (upper === 'AND' || upper === 'OR') && (clause === 'WHERE' || clause === 'HAVING' || clause?.endsWith('JOIN')) && atClauseDepth()) {
			newline(level + 1);
			line += t.text;
			continue;
		}
		switch (t.kind) {
			case 'open': {
				const next = tokens[i + 1];
				const sub = next?.kind === 'word' && ['SELECT', 'WITH', 'VALUES', 'INSERT', 'UPDATE', 'DELETE'].includes(next.text.toUpperCase());
				append(t);
				parens.push({level, clause, sub, closeAt: lineLevel()});
				if (sub) level = lineLevel() + 1;
				break;
			}
			case 'close': {
				const p = parens.pop();
				if (p?.sub) newline(p.closeAt);
				if (p) {
					level = p.level;
					clause = p.clause;
				}
				append({...t, space: p?.sub ? false : t.space});
				break;
			}
			case 'comma':
				append(t);
				if (listClauses.has(clause ?? '') && atClauseDepth()) newline(level + 1);
				break;
			case 'semicolon':
				append(t);
				newline(0);
				level = 0;
				parens.length = 0;
				clause = undefined;
				break;
			case 'comment':
				append(t);
				// a line comment swallows the rest of its line
				if (t.text.startsWith('--')) newline(level + 1);
				break;
			default:
				append(t);
		}
	}
	newline(0);
	return lines.join('\n');
}
