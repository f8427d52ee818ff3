import {alertJson, alertLine, runOnAlert} from '../alerts/notify.js';
import {UsageError} from '../errors.js';
import {createFleet} from '../fleet/console.js';
import {sanitize} from '../sanitize.js';
import {openFromFlags} from '../session.js';
import type {Subcommand} from './types.js';

export const watchCommand: Subcommand = {
	name: 'watch',
	summary: 'headless alerts: a line when an alert starts and when it stops, until interrupted',
	usage: ['watch [--json] [--replica DSN ...] [--pgbouncer DSN] [--max-lag D] ...   one line (or JSON object) per alert start and stop'],
	flags: {
		json: {type: 'boolean', default: false},
	},
	// it only reads
	readOnlyRefusal: () => undefined,
	async run(ctx) {
		const {global} = ctx;
		if (ctx.input.length > 0) throw new UsageError(`watch: unexpected argument "${ctx.input[0]}" (give the target with --dsn or DATABASE_URL)`);
		const opened = await openFromFlags(global);
		const fleet = createFleet(opened, global.fleet, {
			intervalMs: () => global.intervalMs,
			hanging: () => ({activeMs: global.thresholds.hangingActiveMs, idleTxMs: global.thresholds.hangingIdleTxMs}),
		});
		const note = (line: string) => process.stderr.write(`${line}\n`);
		fleet.on('alert', e => {
			ctx.out(ctx.flags.json ? JSON.stringify(alertJson(e)) : alertLine(e));
			if (global.fleet.onAlert) runOnAlert(global.fleet.onAlert, e, note);
		});
		const stopped = new Promise<void>(resolve => {
			for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
		});
		try {
			await fleet.start();
			note(`watching ${fleet.targets.map(t => `${t.name} ${sanitize(t.redacted, 120)}`).join(', ')} every ${global.intervalMs / 1000} s; Ctrl-C stops`);
			await stopped;
		} finally {
			await fleet.stop();
			await opened.close();
		}
		return 0;
	},
};
