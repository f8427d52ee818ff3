import {targetKey} from '../state.js';
import {parseDuration, parsePositiveInt} from '../cli-args.js';
import {assemble, collectDb, collectLocal} from '../checklist/checklist.js';
import type {ChecklistOptions} from '../checklist/items.js';
import type {Config} from '../config.js';
import {runLoadTest, saveLoadTest, summary} from '../checklist/load-test.js';
import {jsonReport, markdownReport, textReport} from '../checklist/report.js';
import {recordHistory} from '../checklist/store.js';
import {ExitCode, UsageError} from '../errors.js';
import {openFromFlags} from '../session.js';
import {printer} from './print.js';
import {phaseProgress} from './progress.js';
import type {Subcommand} from './types.js';

export const defaultLoadTest = {clients: 100, durationMs: 60_000};

/** The checklist's options: `check`'s own flags over the config's (--app-role, --runbook, --backend-dir, the plan). */
export function checklistOptions(flags: Record<string, unknown>, config: Config): ChecklistOptions {
	return {
		...config.checklist,
		...(flags.seqScanRows !== undefined && {seqScanRows: parsePositiveInt(flags.seqScanRows, 'seq-scan-rows')}),
		...(flags.samples !== undefined && {samples: parsePositiveInt(flags.samples, 'samples')}),
	};
}

export const checkCommand: Subcommand = {
	name: 'check',
	summary: 'run the production checklist; exit 0 only when every required item passes',
	usage: [
		'check [--json | --markdown] [--backend-dir DIR] [--runbook PATH] [--app-role NAME] [--seq-scan-rows N] [--samples N]',
		'check --load-test [--clients N] [--duration D]   also run the read-only load test first',
	],
	flags: {
		json: {type: 'boolean', default: false},
		markdown: {type: 'boolean', default: false},
		loadTest: {type: 'boolean', default: false},
		clients: {type: 'string'},
		duration: {type: 'string'},
		samples: {type: 'string'},
		seqScanRows: {type: 'string'},
	},
	readOnlyRefusal: flags => (flags.loadTest ? '--load-test opens many sessions and records its result: not under --read-only' : undefined),
	async run(ctx) {
		const {flags, global} = ctx;
		if (ctx.input.length > 0) throw new UsageError(`check: unexpected argument "${ctx.input[0]}" (give the target with --dsn or DATABASE_URL)`);
		if (flags.json && flags.markdown) throw new UsageError('give one of --json and --markdown');
		if (!flags.loadTest && (flags.clients !== undefined || flags.duration !== undefined)) throw new UsageError('--clients and --duration are for --load-test');
		const options = checklistOptions(flags, global.config);
		const loadTest = flags.loadTest
			? {
					clients: flags.clients === undefined ? defaultLoadTest.clients : parsePositiveInt(flags.clients, 'clients'),
					durationMs: flags.duration === undefined ? defaultLoadTest.durationMs : parseDuration(flags.duration, 'duration'),
				}
			: undefined;
		// Progress and notes go to stderr: stdout is the report, parsable as it is.
		const progress = phaseProgress();
		const print = printer(process.stderr);
		const note = (line: string) => {
			progress.clear();
			print(line);
		};
		progress.show('connecting', 'connecting to the server');
		const opened = await openFromFlags(global).finally(() => progress.clear());
		try {
			const key = targetKey(opened.target);
			const auditCtx = {key, role: opened.caps.role, target: opened.redacted};
			if (loadTest) {
				const result = await runLoadTest(opened.target, opened.monitor, {
					...loadTest,
					onStart: h => {
						note(`load test: ${loadTest.clients} read-only clients for ${loadTest.durationMs / 1000} s against ${opened.redacted} (${h.free} connection slots free)`);
						progress.show('load test', `load test running, ${loadTest.durationMs / 1000} s`);
					},
				});
				saveLoadTest(auditCtx, result);
				note(`load test: ${summary(result)}`);
			}
			progress.show('evidence', 'checking the ten items: settings, EXPLAIN plans, p95 timings, backups');
			const db = await collectDb(opened.monitor, options);
			progress.show('local', 'reading the backup catalog, sign-offs and load tests');
			const local = await collectLocal(key, options);
			progress.clear();
			const report = assemble(db, local, options, {readOnly: global.readOnly});
			recordHistory(auditCtx, report.items, report.score.score, 'check');
			const meta = {target: opened.redacted, role: opened.caps.role, serverVersion: opened.caps.serverVersion};
			if (flags.json) ctx.out(JSON.stringify(jsonReport(report, meta), null, 2));
			else for (const line of flags.markdown ? markdownReport(report, meta) : textReport(report, meta)) ctx.out(line);
			return report.score.ready ? ExitCode.ok : ExitCode.failed;
		} finally {
			await opened.close();
		}
	},
};
