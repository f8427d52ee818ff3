import type {GlobalFlags} from './cli-flags.js';
import {detectCapabilities, type Capabilities} from './db/capabilities.js';
import {redactTarget, resolveTarget, type Target} from './db/dsn.js';
import {Monitor} from './db/monitor.js';
import {startDemo, type Demo} from './demo/demo.js';
import {CliError, ExitCode, classifyConnectError} from './errors.js';

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
		log: line => process.stderr.write(`intowork-db demo: ${line}\n`),
	});
}

/** Resolve the target (or start the demo), connect the monitor, detect what this role can do. */
export async function openTarget(options: OpenOptions): Promise<Opened> {
	let demo: Demo | undefined;
	if (options.demo) {
		try {
			demo = await startDemo({port: options.demoPort, scale: options.demoScale, reset: options.demoReset, workload: options.workload ?? false, log: options.log, replica: options.demoReplica, pgbouncer: options.demoPgbouncer});
		} catch (error) {
			throw new CliError(`demo: ${error instanceof Error ? error.message : String(error)}`, ExitCode.failed);
		}
	}
	const target = resolveTarget({dsn: demo?.url ?? options.dsn});
	const monitor = new Monitor(target);
	try {
		await monitor.connect();
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
