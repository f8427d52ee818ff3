import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {screenOrder, screens} from '../source/screens/registry.js';
import {screenKey} from '../source/keymap.js';
import {ansiToSvg} from './ansi-svg.js';
import {openTerminal, type Terminal} from './terminal.js';

// Real captures of the running demo: the built CLI in tmux, every screen and the help
// at 80x24 (over SSH) and at 200x50 (a wide terminal), saved as text and as SVG.
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'screenshots');
const settle = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function save(term: Terminal, name: string, title: string, columns: number) {
	const ansi = term.capture(true);
	fs.writeFileSync(path.join(out, `${name}.txt`), term.capture());
	fs.writeFileSync(path.join(out, `${name}.svg`), ansiToSvg(ansi, {columns, title}));
	process.stderr.write(`screenshots: ${name}\n`);
}

async function capture(columns: number, rows: number) {
	const size = `${columns}x${rows}`;
	const env = {INTOWORK_DB_CACHE: path.join(cacheRoot(), 'screenshots'), INTOWORK_DB_STATE: path.join(cacheRoot(), 'screenshots-state')};
	// with its replica and pgBouncer, so the Replication and pgBouncer screens have something to show
	const term = openTerminal(['--demo', '--demo-port', String(await freePort()), '--demo-replica', '--demo-pgbouncer'], {columns, rows, env});
	try {
		await term.waitFor(/● live/, 120_000);
		// past the 30 s hanging threshold, so the demo's stuck sessions show as they would in an incident
		await settle(35_000);
		for (const [i, id] of screenOrder.entries()) {
			term.send(screenKey(id));
			await settle(4500);
			// a busy machine may take longer for a screen's first data: the shot shows the data, not "Loading…"
			await term.waitFor(/^(?![\s\S]*Loading…)/, 30_000, 'the screen past Loading…').catch(() => undefined);
			save(term, `${i + 1}-${id}-${size}`, `intowork-db: ${screens[id].title} (${size})`, columns);
		}
		term.send('?');
		await settle(800);
		save(term, `help-${size}`, `intowork-db: help (${size})`, columns);
		term.send('Escape');
		term.send('q');
		await term.waitFor(/\[exit 0\]/, 30_000);
	} finally {
		term.kill();
	}
}

fs.mkdirSync(out, {recursive: true});
// the previous set goes: a screenshot of an old layout misleads
for (const f of fs.readdirSync(out)) if (/\.(txt|svg)$/.test(f)) fs.rmSync(path.join(out, f));
await capture(80, 24);
await capture(200, 50);
