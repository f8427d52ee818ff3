#!/usr/bin/env node
import './source/runtime-env.js';
import React from 'react';
import {render} from 'ink';
import meow from 'meow';
import chalk from 'chalk';
import {App} from './source/app.js';
import {globalFlags, globalHelp, readGlobalFlags, type GlobalFlags} from './source/cli-flags.js';
import {subcommands} from './source/commands/index.js';
import {formatFatal, UsageError} from './source/errors.js';
import {openFromFlags} from './source/session.js';
import {startPoller} from './source/store/poller.js';
import {createAppStore} from './source/store/store.js';
import {loaders} from './source/screens/registry.js';
import {detectCapabilities} from './source/db/capabilities.js';
import {redactDsn} from './source/db/dsn.js';
import {cancelBackupJob} from './source/screens/backups.js';
import {attachFleet, createFleet} from './source/fleet/console.js';

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

async function runConsole(global: GlobalFlags): Promise<number> {
	const opened = await openFromFlags(global, {workload: true});
	const store = createAppStore({
		target: opened.redacted,
		readOnly: global.readOnly,
		intervalMs: global.intervalMs,
		thresholds: global.thresholds,
		caps: opened.caps,
		connection: opened.monitor.state,
		demoDsn: opened.demo ? redactDsn(opened.demo.url) : undefined,
		ui: global.pgBin ? {backups: {pgBin: global.pgBin}} : {},
	});
	opened.monitor.on('state', connection => store.setState({connection}));
	// A restarted or upgraded server may have changed version, extensions or our privileges.
	opened.monitor.on('reconnected', () => {
		detectCapabilities(opened.monitor)
			.then(caps => store.setState({caps}))
			.catch(() => undefined);
	});
	const poller = startPoller(store, opened.monitor, loaders());
	const fleet = createFleet(opened, global.fleet, {
		intervalMs: () => store.getState().intervalMs,
		hanging: () => ({activeMs: store.getState().thresholds.hangingActiveMs, idleTxMs: store.getState().thresholds.hangingIdleTxMs}),
		bouncerDetail: () => store.getState().screen === 'pgbouncer',
		paused: () => store.getState().paused,
	});
	attachFleet(fleet, store, global.fleet, () => process.stdout.write('\u0007'));
	await fleet.start();
	const tty = process.stdout.isTTY;
	// The alternate screen gives the shell back exactly as it was on quit.
	if (tty) process.stdout.write('\u001B[?1049h\u001B[H');
	let instance: ReturnType<typeof render> | undefined;
	const quit = () => instance?.unmount();
	// No JSX in this file: tsc hoists the react/jsx-runtime import above ./source/runtime-env.js, which
	// loaded React's development build next to the reconciler's production one and rendered nothing.
	instance = render(React.createElement(App, {services: {store, db: opened.monitor, target: opened.target, refreshNow: poller.refreshNow, quit}}), {exitOnCtrlC: false, patchConsole: true});
	const onSignal = () => quit();
	process.once('SIGTERM', onSignal);
	process.once('SIGHUP', onSignal);
	try {
		await instance.waitUntilExit();
	} finally {
		poller.stop();
		await fleet.stop();
		if (tty) process.stdout.write('\u001B[?1049l');
		// a backup or restore test in flight: remove its partial file or scratch database before leaving
		await cancelBackupJob(store);
		await opened.close();
	}
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

async function main(): Promise<number> {
	const argv = process.argv.slice(2);
	const sub = subcommands.find(c => c.name === argv[0]);
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
	if (sub) return sub.run({input: cli.input, flags: cli.flags, global, out: line => process.stdout.write(`${line}\n`)});
	return runConsole(global);
}

// https://no-color.org: chalk reads FORCE_COLOR only, and Ink colours through chalk.
if (process.env.NO_COLOR) chalk.level = 0;

try {
	process.exitCode = await main();
} catch (error) {
	const {line, exitCode} = formatFatal(error);
	process.stderr.write(`${line}\n`);
	process.exitCode = exitCode;
}
