import {EventEmitter} from 'node:events';
import {evaluate, AlertTracker, type AlertEvent, type FiringAlert} from '../alerts/rules.js';
import type {AlertThresholds, FleetSettings} from '../alerts/settings.js';
import {historyCapacity} from '../db/cache.js';
import {detectCapabilities, type Capabilities} from '../db/capabilities.js';
import {redactTarget, resolveTarget, type Target} from '../db/dsn.js';
import {Monitor, type ConnectionState} from '../db/monitor.js';
import {sampleBouncer, type BouncerSample} from '../db/pgbouncer.js';
import {sampleReplica, type ReplicaSample} from '../db/replication.js';
import {findLatencyEntries, intervalLatency, sampleLatency, samplePrimary, watchedQueries, type IntervalLatency, type LatencyCounters, type LatencyEntries, type PrimarySample} from '../db/sampler.js';
import {statementsSchema} from '../db/statements.js';
import type {AppQueryId} from '../db/app-queries.js';
import {RingBuffer} from '../ring-buffer.js';

export type TargetKind = 'primary' | 'replica' | 'pgbouncer';

/** One server the console watches, with its own connection, reconnect state and capabilities. */
export type FleetTarget = {
	name: string;
	kind: TargetKind;
	target: Target;
	redacted: string;
	monitor: Monitor;
	caps?: Capabilities;
	/** pgBouncer: SHOW VERSION */
	version?: string;
};

/** What the screens and the header read about each target. */
export type TargetStatus = {
	name: string;
	kind: TargetKind;
	redacted: string;
	connection: ConnectionState;
	version?: string;
	/** the last sample's error, while the previous sample (if any) stays */
	error?: string;
	at?: number;
	primary?: PrimarySample;
	replica?: ReplicaSample;
	bouncer?: BouncerSample;
};

export type FleetState = {
	targets: TargetStatus[];
	alerts: FiringAlert[];
	/** the primary's background samples, oldest first: the five-minute windows */
	history: RingBuffer<PrimarySample>;
	latency?: Partial<Record<AppQueryId, IntervalLatency>>;
	thresholds: AlertThresholds;
	/** alerts go somewhere besides the screen (--on-alert) */
	paging: boolean;
};

export type SamplerOptions = {
	intervalMs(): number;
	hanging(): {activeMs: number; idleTxMs: number};
	alerts: AlertThresholds;
	/** the pgBouncer screen is open: read SHOW STATS/CLIENTS/SERVERS/CONFIG too */
	bouncerDetail?(): boolean;
	/** paused: the console's p pauses the background samples too */
	paused?(): boolean;
	/** --on-alert is set */
	paging?: boolean;
	/** the primary's period when the refresh is faster (default primaryEveryMs) */
	primaryEveryMs?: number;
};

const latencyEveryMs = 10_000;
/** How often the watched queries' pg_stat_statements entries are looked for again by their text (a new role or search_path makes a new entry). */
const latencyEntriesEveryMs = 5 * 60_000;
/**
 * The primary's sample feeds alerts and the five-minute windows, not a screen:
 * at most every 5 s, whatever the screen's refresh. It cost as much server time
 * as a screen's own statements at 1 s; the windows are spans of server time, so
 * fewer samples do not change what "last 5 minutes" means.
 */
export const primaryEveryMs = 5_000;
const maxBackoffMs = 30_000;

export function openSecondaryTargets(settings: Pick<FleetSettings, 'replicas' | 'pgbouncer'>): FleetTarget[] {
	const out: FleetTarget[] = settings.replicas.map((dsn, i) => {
		const target = resolveTarget({dsn});
		return {name: `replica-${i + 1}`, kind: 'replica', target, redacted: redactTarget(target), monitor: new Monitor(target, {applicationName: 'intowork-db'})};
	});
	if (settings.pgbouncer) {
		const target = resolveTarget({dsn: settings.pgbouncer});
		out.push({name: 'pgbouncer', kind: 'pgbouncer', target, redacted: redactTarget(target), monitor: new Monitor(target, {applicationName: 'intowork-db', pgbouncer: true})});
	}
	return out;
}

/**
 * The background sampler: one loop per target, each on its own connection,
 * so a target that is down (or slow) never holds up the others. Each round
 * re-evaluates the alerts; 'update' carries the new state, 'alert' each start
 * and stop.
 */
export class Fleet extends EventEmitter<{update: [FleetState]; alert: [AlertEvent]}> {
	private readonly statuses = new Map<string, TargetStatus>();
	private history = RingBuffer.empty<PrimarySample>(historyCapacity);
	private latencyCounters: LatencyCounters | undefined;
	private latencyEntries: {entries: LatencyEntries; at: number} | undefined;
	private latencyAt = 0;
	private latency: Partial<Record<AppQueryId, IntervalLatency>> | undefined;
	private readonly tracker = new AlertTracker();
	/** each target's next round, while one is waiting (none while it samples) */
	private readonly timers = new Map<string, NodeJS.Timeout>();
	/** targets back since their round started: the next round starts at once */
	private readonly due = new Set<string>();
	private stopped = false;
	private schema: string | null | undefined;

	constructor(
		readonly targets: FleetTarget[],
		private readonly options: SamplerOptions,
	) {
		super();
		for (const t of targets) {
			this.statuses.set(t.name, {name: t.name, kind: t.kind, redacted: t.redacted, connection: t.monitor.state});
			t.monitor.on('state', connection => {
				this.patch(t.name, {connection});
				if (connection.status === 'reconnecting') this.evaluate();
			});
			t.monitor.on('reconnected', () => {
				t.caps = undefined;
				this.schema = undefined;
				this.latencyEntries = undefined;
				this.sampleSoon(t);
			});
		}
	}

	get primary(): FleetTarget {
		return this.targets.find(t => t.kind === 'primary')!;
	}

	state(): FleetState {
		return {targets: this.targets.map(t => this.statuses.get(t.name)!), alerts: this.tracker.list(), history: this.history, latency: this.latency, thresholds: this.options.alerts, paging: this.options.paging ?? false};
	}

	private patch(name: string, p: Partial<TargetStatus>) {
		this.statuses.set(name, {...this.statuses.get(name)!, ...p});
		this.emit('update', this.state());
	}

	/** Connect the secondary targets (never throwing: a down one retries in the background) and start every loop. */
	async start(): Promise<void> {
		await Promise.all(this.targets.filter(t => t.kind !== 'primary').map(t => t.monitor.start()));
		for (const t of this.targets) this.loop(t, 0);
	}

	/** Sample every target now, once, in parallel (tests and the first round). */
	async sampleAll(): Promise<void> {
		await Promise.all(this.targets.map(t => this.sampleOne(t).catch(() => undefined)));
	}

	private loop(t: FleetTarget, failures: number, now = false) {
		if (this.stopped) return;
		const every = t.kind === 'primary' ? Math.max(this.options.primaryEveryMs ?? primaryEveryMs, this.options.intervalMs()) : this.options.intervalMs();
		const delay = failures === 0 ? every : Math.min(maxBackoffMs, every * 2 ** failures);
		const first = !this.statuses.get(t.name)?.at && failures === 0;
		const timer = setTimeout(
			async () => {
				this.timers.delete(t.name);
				let ok = true;
				if (!this.options.paused?.()) ok = await this.sampleOne(t).then(
					() => true,
					() => false,
				);
				this.loop(t, ok ? 0 : failures + 1, this.due.delete(t.name));
			},
			first || now ? 0 : delay,
		);
		this.timers.set(t.name, timer);
	}

	/** A target whose connection is back: sampled now, not after its interval or its error back-off. */
	private sampleSoon(t: FleetTarget) {
		const timer = this.timers.get(t.name);
		if (!timer) {
			// sampling (on the old connection, failing) or not started: the round after starts at once
			this.due.add(t.name);
			return;
		}
		clearTimeout(timer);
		this.loop(t, 0, true);
	}

	private async sampleOne(t: FleetTarget): Promise<void> {
		if (t.monitor.state.status !== 'live') return;
		try {
			if (t.kind === 'pgbouncer') {
				t.version ??= (await t.monitor.query<{version: string}>('SHOW VERSION')).rows[0]?.version;
				const previous = this.statuses.get(t.name)?.bouncer;
				const bouncer = await sampleBouncer(t.monitor, this.options.bouncerDetail?.() ?? false, previous);
				this.patch(t.name, {bouncer, at: bouncer.at, error: undefined, version: t.version});
			} else {
				t.caps ??= await detectCapabilities(t.monitor);
				const version = t.caps.serverVersion.split(' ')[0];
				if (t.kind === 'replica') {
					const replica = await sampleReplica(t.monitor, t.caps.major);
					this.patch(t.name, {replica, at: replica.at, error: undefined, version});
				} else {
					const h = this.options.hanging();
					const primary = await samplePrimary(t.monitor, t.caps, {hangingActiveMs: h.activeMs, hangingIdleTxMs: h.idleTxMs, lockWaitMs: this.options.alerts.lockWaitMs});
					this.history = this.history.push(primary);
					await this.sampleLatency(t, t.caps);
					this.patch(t.name, {primary, at: primary.at, error: undefined, version});
				}
			}
		} catch (error) {
			this.patch(t.name, {error: error instanceof Error ? error.message : String(error)});
			throw error;
		} finally {
			this.evaluate();
		}
	}

	/** Less often than the rest: an interval of a few calls says little about a p95. */
	private async sampleLatency(t: FleetTarget, caps: Capabilities) {
		const ext = caps.statements;
		if (ext.state !== 'ok' || !ext.version || Date.now() - this.latencyAt < latencyEveryMs) return;
		if (this.schema === undefined) this.schema = (await statementsSchema(t.monitor)) ?? null;
		if (!this.schema) return;
		this.latencyAt = Date.now();
		let previous = this.latencyCounters;
		if (!this.latencyEntries || this.latencyAt - this.latencyEntries.at >= latencyEntriesEveryMs) {
			const entries = await findLatencyEntries(t.monitor, this.schema, t.target);
			const same = this.latencyEntries && entries.size === this.latencyEntries.entries.size && [...entries.keys()].every(k => this.latencyEntries!.entries.has(k));
			// an entry found now holds calls from before the previous sample: no interval across the change
			if (!same) previous = undefined;
			this.latencyEntries = {entries, at: this.latencyAt};
		}
		const counters = await sampleLatency(t.monitor, ext.version, this.schema, this.latencyEntries.entries);
		this.latencyCounters = counters;
		if (!previous) return;
		this.latency = Object.fromEntries(watchedQueries.flatMap(id => {
			const l = intervalLatency(counters, previous, id);
			return l ? [[id, l]] : [];
		}));
	}

	private evaluate() {
		const unread = new Set<string>();
		const status = (t: FleetTarget) => this.statuses.get(t.name)!;
		const down = (t: FleetTarget) => {
			const s = status(t);
			if (s.connection.status === 'live') return undefined;
			unread.add(t.name);
			return s.connection.lastError ?? s.connection.status;
		};
		const primary = this.primary;
		if (down(primary) || status(primary).error) unread.add(primary.name);
		const bouncer = this.targets.find(t => t.kind === 'pgbouncer');
		const h = this.options.hanging();
		const alerts = evaluate(
			{
				primary: {name: primary.name, sample: unread.has(primary.name) ? undefined : status(primary).primary, history: this.history.toArray(), latency: this.latency},
				replicas: this.targets.filter(t => t.kind === 'replica').map(t => ({name: t.name, sample: status(t).replica, down: down(t)})),
				pgbouncer: bouncer && {name: bouncer.name, sample: status(bouncer).bouncer, down: down(bouncer)},
				hanging: {activeMs: h.activeMs, idleTxMs: h.idleTxMs},
			},
			this.options.alerts,
		);
		const events = this.tracker.update(alerts, Date.now(), unread);
		if (events.length > 0) this.emit('update', this.state());
		for (const e of events) this.emit('alert', e);
	}

	async stop(): Promise<void> {
		this.stopped = true;
		for (const t of this.timers.values()) clearTimeout(t);
		this.timers.clear();
		// the primary's monitor belongs to whoever opened it
		await Promise.all(this.targets.filter(t => t.kind !== 'primary').map(t => t.monitor.close()));
	}
}
