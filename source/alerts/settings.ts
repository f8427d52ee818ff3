import type {AnyFlags} from 'meow';
import {parseDuration, parsePositiveInt} from '../cli-args.js';
import {appQueries} from '../db/app-queries.js';
import {UsageError} from '../errors.js';

/** When each alert fires. The defaults are the runbook's targets. */
export type AlertThresholds = {
	/** client connections over usable slots (max_connections minus reserved) */
	connectionUse: number;
	/** database hit ratio over the last five minutes below this */
	cacheHit: number;
	/** estimated p95 (interval mean + 1.645 standard deviations) over these, ms */
	jobListP95Ms: number;
	applicationListP95Ms: number;
	/** a lock wait longer than this */
	lockWaitMs: number;
	/** replay delay of a replica over this */
	maxLagMs: number;
	/** WAL a replica has received but not replayed, over this (bytes): the lag when no commit has been replayed to time it by */
	maxLagBytes: number;
	/** an inactive replication slot holding more WAL than this (bytes) */
	slotRetainedBytes: number;
	/** pgBouncer clients waiting for a server connection, above this */
	pgbouncerWaiting: number;
};

export const defaultAlertThresholds: AlertThresholds = {
	connectionUse: 0.8,
	cacheHit: 0.95,
	jobListP95Ms: appQueries.job_list.targetMs ?? 100,
	applicationListP95Ms: appQueries.application_list.targetMs ?? 50,
	lockWaitMs: 10_000,
	maxLagMs: 10_000,
	maxLagBytes: 256 * 1024 ** 2,
	slotRetainedBytes: 1024 ** 3,
	pgbouncerWaiting: 0,
};

export type FleetSettings = {
	/** --replica DSN, in the order given */
	replicas: string[];
	/** --pgbouncer DSN: the admin console (database pgbouncer) */
	pgbouncer?: string;
	alerts: AlertThresholds;
	/** ring the terminal bell once when an alert starts */
	bell: boolean;
	/** run through the shell with the alert as JSON on stdin, at start and stop */
	onAlert?: string;
	/** --demo-replica, --demo-pgbouncer */
	demoReplica: boolean;
	demoPgbouncer: boolean;
};

export const fleetFlags = {
	replica: {type: 'string', isMultiple: true},
	pgbouncer: {type: 'string'},
	maxLag: {type: 'string'},
	maxLagBytes: {type: 'string'},
	lockWaitAfter: {type: 'string'},
	connectionAlert: {type: 'string'},
	cacheAlert: {type: 'string'},
	jobListP95: {type: 'string'},
	applicationListP95: {type: 'string'},
	slotWalAlert: {type: 'string'},
	waitingAlert: {type: 'string'},
	bell: {type: 'boolean', default: false},
	onAlert: {type: 'string'},
	demoReplica: {type: 'boolean', default: false},
	demoPgbouncer: {type: 'boolean', default: false},
} satisfies AnyFlags;

export const fleetHelp = `  --demo-replica       with --demo: a streaming standby of the demo (pg_basebackup of PostgreSQL 15)
  --demo-pgbouncer     with --demo: the demo's app traffic through a real pgBouncer (package pgbouncer)
  --replica DSN        also watch this standby (repeatable): its lag, conflicts, replay state
  --pgbouncer DSN      also watch pgBouncer through its admin console (database pgbouncer)
  --max-lag D          alert when a replica's replay delay exceeds D (default 10s)
  --max-lag-bytes S    alert when a replica has received more than S it has not replayed (default 256MB)
  --lock-wait-after D  alert when a session has waited on a lock longer than D (default 10s)
  --connection-alert P alert when client connections exceed P % of usable slots (default 80)
  --cache-alert P      alert when the hit ratio over 5 minutes is below P % (default 95)
  --job-list-p95 N     alert when the job list's estimated p95 exceeds N ms (default 100)
  --application-list-p95 N   the same for the application list (default 50)
  --slot-wal-alert S   alert when an inactive slot retains more WAL than S (default 1GB; 16MB, 500kB)
  --waiting-alert N    alert when more than N pgBouncer clients wait (default 0)
  --bell               ring the terminal bell once when an alert starts
  --on-alert CMD       run CMD (sh -c) with the alert as JSON on stdin when it starts and stops`;

function percent(raw: unknown, flag: string): number {
	const text = String(raw).trim().replace(/%$/, '');
	const n = Number(text);
	if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0 && n <= 100)) throw new UsageError(`--${flag}: "${String(raw)}" is not a percentage from 0 to 100`);
	return n / 100;
}

const sizeUnits: Record<string, number> = {'': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4};

export function parseSize(raw: unknown, flag: string): number {
	const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?b)?$/i.exec(String(raw).trim());
	if (!m) throw new UsageError(`--${flag}: "${String(raw)}" is not a size (examples: 500kB, 16MB, 1GB)`);
	return Math.round(Number(m[1]) * sizeUnits[(m[2] ?? '').toLowerCase()]!);
}

export function readFleetFlags(flags: Record<string, unknown>): FleetSettings {
	const a = {...defaultAlertThresholds};
	if (flags.maxLag !== undefined) a.maxLagMs = parseDuration(flags.maxLag, 'max-lag');
	if (flags.maxLagBytes !== undefined) a.maxLagBytes = parseSize(flags.maxLagBytes, 'max-lag-bytes');
	if (flags.lockWaitAfter !== undefined) a.lockWaitMs = parseDuration(flags.lockWaitAfter, 'lock-wait-after');
	if (flags.connectionAlert !== undefined) a.connectionUse = percent(flags.connectionAlert, 'connection-alert');
	if (flags.cacheAlert !== undefined) a.cacheHit = percent(flags.cacheAlert, 'cache-alert');
	if (flags.jobListP95 !== undefined) a.jobListP95Ms = parsePositiveInt(flags.jobListP95, 'job-list-p95');
	if (flags.applicationListP95 !== undefined) a.applicationListP95Ms = parsePositiveInt(flags.applicationListP95, 'application-list-p95');
	if (flags.slotWalAlert !== undefined) a.slotRetainedBytes = parseSize(flags.slotWalAlert, 'slot-wal-alert');
	if (flags.waitingAlert !== undefined) {
		const text = String(flags.waitingAlert).trim();
		if (!/^\d+$/.test(text)) throw new UsageError(`--waiting-alert: "${text}" is not a whole number of 0 or more`);
		a.pgbouncerWaiting = Number(text);
	}
	const replicas = ((flags.replica as string[] | undefined) ?? []).map(String);
	return {
		replicas,
		...(flags.pgbouncer !== undefined && {pgbouncer: String(flags.pgbouncer)}),
		alerts: a,
		bell: Boolean(flags.bell),
		...(flags.onAlert !== undefined && {onAlert: String(flags.onAlert)}),
		demoReplica: Boolean(flags.demoReplica),
		demoPgbouncer: Boolean(flags.demoPgbouncer),
	};
}
