#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50
import {mark, traceFrames, tracing} from './source/start-trace.js';
import './source/runtime-env.js';
import meow from 'meow';
import chalk from 'chalk';
import {globalFlags, globalHelp, readGlobalFlags, type GlobalFlags} from './source/cli-flags.js';
import {runSubcommand, subcommands} from './source/commands/index.js';
import {printer} from './source/commands/print.js';
import {UsageError} from './source/errors.js';
import {formatFatal} from './source/fatal.js';
import {openFromFlags} from './source/session.js';
import {JobRegistry} from './source/jobs/registry.js';
import {recordJob} from './source/jobs/record.js';
import {sanitize} from './source/sanitize.js';

const commandList = subcommands.map(c => `  ${c.name.padEnd(14)} ${c.summary}`).join('\n');

const help = `
  A terminal console for the IntoWork PostgreSQL database.

  Usage
    $ intowork-db [DSN] [options]          the live console
    $ intowork-db --demo                   the console on an embedded, seeded demo database
${subcommands.flatMap(c => c.usage.map(u => `    $ intowork-db ${u}`)).join('\n')}

${commandList ? `  Commands (each also takes the target options; intowork-db COMMAND --help for its own)\n${commandList}\n\n` : ''}${globalHelp
	.split('\n')
	.map(l => `  ${l}`)
	.join('\n')}

  Exit codes: 0 ok, 1 a check or action failed, 2 bad usage, 3 server unreachable,
  4 authentication failed, 5 no such database, 6 SSL problem, 70 internal error.
`;

/** A frame drawn before the first poll's answer is drawn again at once; a server slow to answer still gets one after this. */
const firstDataWaitMs = 1000;

async function runConsole(global: GlobalFlags): Promise<number> {
	// The connection is opened first: the server forks a backend and checks the password while React and Ink load.
	// Loaded here, not at the top: React and Ink take seconds on a busy machine, and a headless command must speak at once.
	const [opened, [{default: React}, {render}, {App}, {startPoller}, {createAppStore, firstData}, {loaders}, {attachFleet, createFleet}]] = await Promise.all([
		openFromFlags(global, {workload: true}),
		Promise.all([
			import('react'),
			import('ink'),
			import('./source/app.js'),
			import('./source/store/poller.js'),
			import('./source/store/store.js'),
			import('./source/screens/registry.js'),
			import('./source/fleet/console.js'),
		]),
	]);
	mark('connected, capabilities read, modules loaded');
	const store = createAppStore({
		target: opened.redacted,
		readOnly: global.readOnly,
		intervalMs: global.intervalMs,
		thresholds: global.thresholds,
		caps: opened.caps,
		connection: opened.monitor.state,
		// the demo's password is published (the readme prints it), so its DSN is shown whole, to paste into psql
		demoDsn: opened.demo ? sanitize(opened.demo.url, 500) : undefined,
		ui: global.pgBin ? {backups: {pgBin: global.pgBin}} : {},
		// the terminal's size from the first frame: measured only after mounting, it drew every line twice at start
		size: {columns: process.stdout.columns || 80, rows: process.stdout.rows || 24},
	});
	opened.monitor.on('state', connection => store.setState({connection}));
	const jobs = new JobRegistry({onFinish: job => recordJob(opened.target, store.getState().caps?.role ?? opened.target.user, job)});
	const poller = startPoller(store, opened.monitor, loaders(), global.config);
	const fleet = createFleet(opened, global.fleet, {
		intervalMs: () => store.getState().intervalMs,
		hanging: () => ({activeMs: store.getState().thresholds.hangingActiveMs, idleTxMs: store.getState().thresholds.hangingIdleTxMs}),
		bouncerDetail: () => store.getState().screen === 'pgbouncer',
		paused: () => store.getState().paused,
	});
	attachFleet(fleet, store, global.fleet, () => process.stdout.write('\u0007'));
	// Not waited for: a replica or pgBouncer slow to answer must not hold the first frame back. The primary's first
	// sample goes on the monitor's connection after the first poll, which was sent first.
	const fleetStarted = fleet.start();
	if (tracing) traceFrames(store);
	// The first frame shows the first screen's data: the empty frame before it cost as much CPU as a frame with data.
	await firstData(store, firstDataWaitMs);
	mark('first poll answered');
	const tty = process.stdout.isTTY;
	// The alternate screen gives the shell back exactly as it was on quit.
	if (tty) process.stdout.write('\u001B[?1049h\u001B[H');
	let instance: ReturnType<typeof render> | undefined;
	const quit = () => instance?.unmount();
	// No JSX in this file: tsc hoists the react/jsx-runtime import above ./source/runtime-env.js, which
	// loaded React's development build next to the reconciler's production one and rendered nothing.
	instance = render(React.createElement(App, {services: {store, db: opened.monitor, target: opened.target, config: global.config, jobs, refreshNow: poller.refreshNow, quit}}), {exitOnCtrlC: false, patchConsole: true});
	mark('first frame drawn');
	let signalled = false;
	// SIGHUP is the SSH connection dropping, SIGTERM a stop: cancel every job, wait for its clean-up, stop the
	// demo, exit. Kept registered (on, not once) so a second signal does not fall through to the default
	// action, which would leave the demo's postmaster behind.
	const onSignal = () => {
		if (signalled) return;
		signalled = true;
		quit();
	};
	process.on('SIGTERM', onSignal);
	process.on('SIGHUP', onSignal);
	// The terminal can vanish before the SIGHUP arrives: Ink's next frame then fails with EIO, which
	// unhandled would end the process at once, jobs and postmaster left running. It is the same hangup.
	for (const stream of [process.stdout, process.stderr]) stream.on('error', onSignal);
	let left: string[] = [];
	try {
		await instance.waitUntilExit();
	} finally {
		poller.stop();
		await fleetStarted;
		await fleet.stop();
		if (tty && !signalled) process.stdout.write('\u001B[?1049l');
		// jobs in flight: cancel them, and wait for their clean-up (partial file, scratch database, INVALID index)
		// A clean-up that does not finish in time (a DROP INDEX CONCURRENTLY waiting for a long transaction)
		// is cancelled too: the job then records what it left (an INVALID index the next apply drops).
		if ((await jobs.cancelAll(signalled ? 20_000 : 120_000)).length) await jobs.cancelAll(10_000);
		left = jobs.running().map(j => j.title);
		await opened.close();
	}
	if (left.length) process.stderr.write(`intowork-db: still running when the console quit: ${left.join(', ')} (see the Activity log)\n`);
	// A job left running on the server keeps its connections open, which would keep this process alive.
	if (left.length || jobs.store.getState().jobs.some(j => j.result?.outcome === 'left running')) process.exit(0);
	return 0;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`);

/** Read from the raw arguments: meow would take --no-foo as a negated --foo and report it under the wrong name. */
function unknownFlags(args: string[], spec: Record<string, {type: string; shortFlag?: string}>): string[] {
	const long = new Map(Object.entries(spec).map(([k, v]) => [kebab(k), v.type]));
	const short = new Set(Object.values(spec).flatMap(v => (v.shortFlag ? [v.shortFlag] : [])));
	const unknown: string[] = [];
	for (const arg of args) {
		if (arg === '--') break;
		if (arg.startsWith('--')) {
			const name = arg.slice(2).split('=')[0]!;
			const negated = name.startsWith('no-') && long.get(name.slice(3)) === 'boolean';
			if (!long.has(name) && !negated) unknown.push(`--${name}`);
		} else if (/^-[^\d-]/.test(arg)) {
			for (const c of arg.slice(1)) if (!short.has(c)) unknown.push(`-${c}`);
		}
	}
	return unknown;
}

/**
 * `--interval -5s` is one option and its (bad) value: meow would read `-5s` as the short flags -5 and -s,
 * the next argument (the DSN) as the value of -s, and keep the default interval.
 */
function attachDashValues(args: string[], spec: Record<string, {type: string; shortFlag?: string}>): string[] {
	const takesValue = new Set(Object.entries(spec).flatMap(([k, v]) => (v.type === 'string' ? [`--${kebab(k)}`] : [])));
	const short = new Set(Object.values(spec).flatMap(v => (v.shortFlag ? [`-${v.shortFlag}`] : [])));
	const out: string[] = [];
	for (let i = 0; i < args.length; i++) {
		const arg = args[i]!;
		const next = args[i + 1];
		if (arg === '--') return [...out, ...args.slice(i)];
		if (takesValue.has(arg) && next !== undefined && /^-(?!-)/.test(next) && !short.has(next)) {
			out.push(`${arg}=${next}`);
			i++;
		} else out.push(arg);
	}
	return out;
}

async function main(): Promise<number> {
	mark('main');
	const raw = process.argv.slice(2);
	const sub = subcommands.find(c => c.name === raw[0]);
	const argv = attachDashValues(raw, {...globalFlags, ...sub?.flags});
	const cli = meow(help, {
		importMeta: import.meta,
		argv: sub ? argv.slice(1) : argv,
		flags: {...globalFlags, ...sub?.flags},
		allowUnknownFlags: true,
		autoHelp: false,
		autoVersion: false,
	});
	const unknown = unknownFlags(sub ? argv.slice(1) : argv, {...globalFlags, ...sub?.flags});
	if (unknown.length > 0) throw new UsageError(`unknown option ${unknown.join(', ')} (see intowork-db${sub ? ` ${sub.name}` : ''} --help)`);
	if (cli.flags.version) {
		process.stdout.write(`${cli.pkg.version}\n`);
		return 0;
	}
	if (cli.flags.help) {
		if (sub) process.stdout.write(`\n  ${sub.summary}\n\n${sub.usage.map(u => `  $ intowork-db ${u}`).join('\n')}\n\n  Target options as for the console (intowork-db --help).\n\n`);
		else process.stdout.write(`${help}\n`);
		return 0;
	}
	if (!sub && cli.input.length > 1) throw new UsageError(`unexpected argument "${cli.input[1]}": give one DSN, or a command (${subcommands.map(c => c.name).join(', ') || 'none yet'})`);
	const global = readGlobalFlags(sub ? [] : cli.input, cli.flags);
	if (global.demo && global.dsn) throw new UsageError('--demo starts its own database: give either a DSN or --demo');
	if (!global.demo && (global.fleet.demoReplica || global.fleet.demoPgbouncer)) throw new UsageError('--demo-replica and --demo-pgbouncer go with --demo');
	if (sub) return runSubcommand(sub, {input: cli.input, flags: cli.flags, global, out: printer(process.stdout)});
	return runConsole(global);
}

// `intowork-db migrate --plan | head -1`: once the reader is gone, output has nowhere to go and is dropped.
// The command itself still finishes (a backup or restore test must not stop halfway, leaving a partial
// file or scratch database) and exits with its own code; Node would otherwise print an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

// https://no-color.org: chalk reads FORCE_COLOR only, and Ink colours through chalk.
if (process.env.NO_COLOR) chalk.level = 0;

try {
	process.exitCode = await main();
} catch (error) {
	const {line, exitCode} = formatFatal(error);
	printer(process.stderr)(line);
	process.exitCode = exitCode;
}
