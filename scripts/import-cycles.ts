import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

// Import cycles in the built code (what Node actually loads: type-only
// imports are gone there). A cycle makes load order decide whether a module
// sees its neighbour's exports yet, so `npm test` fails on any.
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = ['cli.js', 'source', 'test', 'bench', 'scripts'].map(p => path.join(dist, p));

function jsFiles(p: string): string[] {
	if (!fs.existsSync(p)) return [];
	if (fs.statSync(p).isFile()) return p.endsWith('.js') ? [p] : [];
	return fs.readdirSync(p).flatMap(f => jsFiles(path.join(p, f)));
}

// Static imports and re-exports only: a dynamic import() runs after every module has loaded.
const importPattern = /^\s*(?:import|export)\s[^;]*?from\s*'(\.{1,2}\/[^']+)'|^\s*import\s*'(\.{1,2}\/[^']+)'/gm;

const graph = new Map<string, string[]>();
for (const file of roots.flatMap(r => jsFiles(r))) {
	const text = fs.readFileSync(file, 'utf8');
	graph.set(
		file,
		[...text.matchAll(importPattern)].map(m => path.resolve(path.dirname(file), m[1] ?? m[2] ?? '')),
	);
}

// Tarjan's strongly connected components: every component with more than one module (or a self-import) is a cycle.
const index = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
const cycles: string[][] = [];
let next = 0;

function visit(v: string) {
	index.set(v, next);
	low.set(v, next);
	next++;
	stack.push(v);
	onStack.add(v);
	for (const w of graph.get(v) ?? []) {
		if (!graph.has(w)) continue;
		if (!index.has(w)) {
			visit(w);
			low.set(v, Math.min(low.get(v)!, low.get(w)!));
		} else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
	}
	if (low.get(v) === index.get(v)) {
		const component: string[] = [];
		let w: string;
		do {
			w = stack.pop()!;
			onStack.delete(w);
			component.push(w);
		} while (w !== v);
		if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
	}
}

for (const file of graph.keys()) if (!index.has(file)) visit(file);

const name = (f: string) => path.relative(dist, f).replace(/\.js$/, '');
if (cycles.length === 0) {
	process.stdout.write(`import cycles: none in ${graph.size} modules\n`);
} else {
	for (const c of cycles) process.stderr.write(`import cycle: ${c.map(name).sort().join(', ')}\n`);
	process.exitCode = 1;
}
