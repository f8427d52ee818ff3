import {executeKill, outcomeLine, planKill, recordRefusals, settledResults, tally, targetLine, toKillTarget, type KillMode} from '../actions/kill.js';
import {parseDuration} from '../cli-args.js';
import {loadConnections, type HangingKind} from '../db/connections.js';
import {ExitCode, UsageError} from '../errors.js';
import {formatDuration} from '../format.js';
import {openFromFlags} from '../session.js';
import type {Subcommand} from './types.js';

const states: Record<string, HangingKind> = {active: 'active', 'idle-in-transaction': 'idle-tx'};

export const killCommand: Subcommand = {
	name: 'kill',
	summary: 'cancel (or --terminate) hanging sessions of the target database; without --yes only lists them',
	usage: ['kill [DSN] --hanging [--older-than D] [--state active|idle-in-transaction] [--terminate] [--dry-run] [--yes]'],
	flags: {
		hanging: {type: 'boolean', default: false},
		olderThan: {type: 'string'},
		state: {type: 'string'},
		terminate: {type: 'boolean', default: false},
		dryRun: {type: 'boolean', default: false},
		yes: {type: 'boolean', default: false},
	},
	readOnlyRefusal: () => 'kill signals sessions on the server: not under --read-only',
	async run(ctx) {
		const {flags, global} = ctx;
		// Everything is checked before connecting: bad input changes nothing.
		if (ctx.input.length > 1 || (ctx.input.length === 1 && global.dsn)) throw new UsageError('give the target once: one DSN argument, or --dsn');
		if (ctx.input.length === 1 && global.demo) throw new UsageError('--demo starts its own database: give either a DSN or --demo');
		if (!flags.hanging) throw new UsageError('kill: say which sessions: --hanging (active or idle in transaction past the thresholds)');
		const state = flags.state === undefined ? undefined : states[String(flags.state)];
		if (flags.state !== undefined && !state) throw new UsageError(`--state: "${String(flags.state)}" is not active or idle-in-transaction`);
		const olderThan = flags.olderThan === undefined ? undefined : parseDuration(flags.olderThan, 'older-than');
		const thresholds = {
			...global.thresholds,
			...(olderThan !== undefined && {hangingActiveMs: olderThan, hangingIdleTxMs: olderThan}),
		};
		const mode: KillMode = flags.terminate ? 'terminate' : 'cancel';
		const act = Boolean(flags.yes) && !flags.dryRun;

		const opened = await openFromFlags(global, {dsn: global.dsn ?? ctx.input[0]});
		try {
			const {caps, monitor, target} = opened;
			const data = await loadConnections({db: monitor, caps, thresholds, config: global.config, ownPid: monitor.state.backendPid}, undefined);
			// Only the target database: other databases on the server belong to other runbooks.
			const chosen = data.backends.filter(b => b.database === caps.database && b.hanging && (!state || b.hanging === state));
			const what = `${state === 'active' ? 'active' : state === 'idle-tx' ? 'idle in transaction' : 'active or idle in transaction'}`;
			const limits = `active > ${formatDuration(thresholds.hangingActiveMs)}, idle in transaction > ${formatDuration(thresholds.hangingIdleTxMs)}`;
			if (chosen.length === 0) {
				ctx.out(`No hanging session (${what}; ${limits}) in ${opened.redacted}.`);
				return ExitCode.ok;
			}
			const plan = planKill(chosen, caps.role);
			// Protected sessions need a human's extra confirmation: headless, they are refused.
			const refused = [...plan.refuse, ...plan.confirm];
			ctx.out(`${chosen.length} hanging session${chosen.length === 1 ? '' : 's'} (${limits}) in ${opened.redacted}:`);
			for (const b of plan.act) ctx.out(`  ${targetLine(toKillTarget(b))}`);
			for (const r of refused) {
				ctx.out(`  refused: ${targetLine(toKillTarget(r.backend))}`);
				ctx.out(`    reason: ${r.reason}`);
			}
			const idle = mode === 'cancel' ? plan.act.filter(b => b.state !== 'active') : [];
			if (idle.length > 0) ctx.out(`  note: pid ${idle.map(b => b.pid).join(', ')} idle in transaction: a cancel does nothing there; --terminate ends them`);

			if (!act) {
				const n = plan.act.length;
				ctx.out(`${flags.dryRun ? 'Dry run' : 'Not confirmed'}: would ${mode} ${n} session${n === 1 ? '' : 's'}; nothing was sent.${flags.dryRun ? '' : ' Add --yes to do it.'}`);
				return ExitCode.ok;
			}
			const targets = plan.act.map(toKillTarget);
			const outcomes = [
				...(targets.length > 0 ? await executeKill(target, mode, targets, {via: 'cli', role: caps.role}) : []),
				...recordRefusals(target, caps.role, mode, refused, 'cli'),
			];
			for (const o of outcomes) ctx.out(`  ${outcomeLine(o)}`);
			ctx.out(`${mode === 'cancel' ? 'Cancel' : 'Terminate'}: ${tally(outcomes)}.`);
			// Idle in transaction, there is no query for a cancel to stop: that is what cancel means, not a failure.
			const unreachable = outcomes.filter(o => o.result === 'not-running');
			if (unreachable.length > 0)
				ctx.out(`Left as they were: pid ${unreachable.map(o => o.target.pid).join(', ')} idle in transaction, which a cancel cannot reach; --terminate ends them and rolls their transactions back.`);
			return outcomes.every(o => settledResults.has(o.result) || o.result === 'not-running') ? ExitCode.ok : ExitCode.failed;
		} finally {
			await opened.close();
		}
	},
};
