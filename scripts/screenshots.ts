import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {screenOrder, screens} from '../source/screens/registry.js';
import {screenKey} from '../source/keymap.js';
import {ansiToSvg} from './ansi-svg.js';
import {openTerminal, type Terminal} from './terminal.js';

// Real captures of the running demo: the built CLI in tmux, every screen at
// 120x36 and the overview at 80x24, saved as text and as SVG.
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'screenshots');
const settle = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function save(term: Terminal, name: string, title: string, columns: number) {
	const ansi = term.capture(true);
	fs.writeFileSync(path.join(out, `${name}.txt`), term.capture());
	fs.writeFileSync(path.join(out, `${name}.svg`), ansiToSvg(ansi, {columns, title}));
	process.stderr.write(`screenshots: ${name}\n`);
}

async function capture(columns: number, rows: number, names: (id: string, i: number) => string, only?: readonly string[]) {
	const env = {INTOWORK_DB_CACHE: path.join(cacheRoot(), 'screenshots'), INTOWORK_DB_STATE: path.join(cacheRoot(), 'screenshots-state')};
	// with its replica and pgBouncer, so the Replication and pgBouncer screens have something to show
	const term = openTerminal(['--demo', '--demo-port', String(await freePort()), '--demo-replica', '--demo-pgbouncer'], {columns, rows, env});
	try {
		await term.waitFor(/● live/, 120_000);
		// past the 30 s hanging threshold, so the demo's stuck sessions show as they would in an incident
		await settle(35_000);
		for (const [i, id] of screenOrder.entries()) {
			if (only && !only.includes(id)) continue;
			term.send(screenKey(id));
			await settle(4500);
			save(term, names(id, i), `intowork-db: ${screens[id].title}`, columns);
		}
		if (!only) {
			term.send('?');
			await settle(800);
			save(term, 'help', 'intowork-db: help', columns);
			term.send('Escape');
		}
		term.send('q');
		await term.waitFor(/\[exit 0\]/, 30_000);
	} finally {
		term.kill();
	}
}

fs.mkdirSync(out, {recursive: true});
// `npm run screenshots -- replication pgbouncer` retakes only those screens
const only = process.argv.slice(2);
await capture(120, 36, (id, i) => `${i + 1}-${id}`, only.length > 0 ? only : undefined);
if (only.length === 0) await capture(80, 24, id => `${id}-80x24`, ['overview', 'connections']);
