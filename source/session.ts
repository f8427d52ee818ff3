import type {GlobalFlags} from './cli-flags.js';
import {printer} from './commands/print.js';
import {detectCapabilities, type Capabilities} from './db/capabilities.js';
import {redactTarget, resolveTarget, type Target} from './db/dsn.js';
import {Monitor} from './db/monitor.js';
import type {Demo} from './demo/demo.js';
import {CliError, ExitCode, errorText} from './errors.js';
import {classifyConnectError} from './db/connect-error.js';
import {mark} from './start-trace.js';

export type OpenOptions = {
	dsn?: string;
	demo?: boolean;
	demoReset?: boolean;
	demoPort?: number;
	demoScale?: number;
	demoReplica?: boolean;
	demoPgbouncer?: boolean;
	/** the interactive demo runs its workload; headless commands on the demo do not need one */
	workload?: boolean;
	log?: (line: string) => void;
};

export type Opened = {
	target: Target;
	redacted: string;
	monitor: Monitor;
	caps: Capabilities;
	demo?: Demo;
	close(): Promise<void>;
};

const print = printer(process.stderr);

/** The target the command-line flags name: a DSN, the environment, or the demo (whose progress goes to stderr). */
export function openFromFlags(global: GlobalFlags, options: {dsn?: string; workload?: boolean} = {}): Promise<Opened> {
	return openTarget({
		dsn: options.dsn ?? global.dsn,
		demo: global.demo,
		demoReset: global.demoReset,
		demoPort: global.demoPort,
		demoScale: global.demoScale,
		demoReplica: global.fleet.demoReplica,
		demoPgbouncer: global.fleet.demoPgbouncer,
		workload: options.workload,
		log: line => print(`intowork-db demo: ${line}`),
	});
}

/** Resolve the target (or start the demo), connect the monitor, detect what this role can do. */
export async function openTarget(options: OpenOptions): Promise<Opened> {
	let demo: Demo | undefined;
	if (options.demo) {
		try {
			// loaded only here: the demo and its embedded PostgreSQL (an optional dependency) are for --demo alone
			const {startDemo} = await import('./demo/demo.js');
			demo = await startDemo({port: options.demoPort, scale: options.demoScale, reset: options.demoReset, workload: options.workload ?? false, log: options.log, replica: options.demoReplica, pgbouncer: options.demoPgbouncer});
		} catch (error) {
			throw new CliError(`demo: ${errorText(error)}`, ExitCode.failed);
		}
	}
	const target = resolveTarget({dsn: demo?.url ?? options.dsn});
	const monitor = new Monitor(target);
	mark('target resolved');
	try {
		await monitor.connect();
		mark('connected');
	} catch (error) {
		await demo?.stop();
		throw classifyConnectError(error, target);
	}
	let caps: Capabilities;
	try {
		caps = await detectCapabilities(monitor);
	} catch (error) {
		await monitor.close();
		await demo?.stop();
		throw error;
	}
	return {
		target,
		redacted: redactTarget(target),
		monitor,
		caps,
		demo,
		async close() {
			await monitor.close();
			await demo?.stop();
		},
	};
}
