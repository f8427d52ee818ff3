import {windowRatio} from '../db/cache.js';
import type {BouncerSample} from '../db/pgbouncer.js';
import type {ReplicaSample} from '../db/replication.js';
import type {IntervalLatency, PrimarySample} from '../db/sampler.js';
import type {AppQueryId} from '../db/app-queries.js';
import {formatBytes, formatDuration, formatPercent} from '../format.js';
import type {AlertThresholds} from './settings.js';

export type AlertKind = 'connections' | 'cache' | 'latency' | 'hanging' | 'locks' | 'replica-lag' | 'slot' | 'pgbouncer-waiting' | 'target-down';

export type Alert = {
	/** stable while the condition lasts: target, kind and subject */
	key: string;
	target: string;
	kind: AlertKind;
	/** one line for the strip: what and how bad, against what */
	text: string;
	value?: number;
	threshold?: number;
};

export type FiringAlert = Alert & {since: number};

/** What the rules read: the newest sample of each target that answered, and the primary's recent history. */
export type FleetReadings = {
	primary: {
		name: string;
		/** undefined while the primary is unreachable: its alerts hold */
		sample?: PrimarySample;
		history: readonly PrimarySample[];
		latency?: Partial<Record<AppQueryId, IntervalLatency>>;
	};
	replicas: Array<{name: string; sample?: ReplicaSample; down?: string}>;
	pgbouncer?: {name: string; sample?: BouncerSample; down?: string};
	hanging: {activeMs: number; idleTxMs: number};
};

/** The cache alert waits for this much history, so one cold read at start-up does not page anyone. */
export const cacheWindowMinMs = 60_000;

const latencyTargets: Array<[AppQueryId, keyof AlertThresholds, string]> = [
	['job_list', 'jobListP95Ms', 'job list'],
	['application_list', 'applicationListP95Ms', 'application list'],
];

/**
 * Whether a standby is too far behind, and by which measure: its time lag
 * when that is over --max-lag, else the WAL it received and has not
 * replayed when that is over --max-lag-bytes. The bytes count even when the
 * time is known and under its limit: a standby replaying a big backlog
 * whose last replayed commit is recent is still far behind. The alert and
 * the Replication screen's colour both read this one rule.
 */
export function replicaLagOver(s: Pick<ReplicaSample, 'lagMs' | 'replayBehindBytes'>, t: Pick<AlertThresholds, 'maxLagMs' | 'maxLagBytes'>): 'time' | 'bytes' | undefined {
	if (s.lagMs !== null && s.lagMs > t.maxLagMs) return 'time';
	if (s.replayBehindBytes !== null && s.replayBehindBytes > t.maxLagBytes) return 'bytes';
	return undefined;
}

export function evaluate(r: FleetReadings, t: AlertThresholds): Alert[] {
	const out: Alert[] = [];
	const p = r.primary.sample;
	const pn = r.primary.name;
	if (p) {
		const use = p.usable > 0 ? p.clients / p.usable : 0;
		if (use > t.connectionUse)
			out.push({key: `${pn}:connections`, target: pn, kind: 'connections', text: `connections ${formatPercent(use, 0)} of ${p.usable} (> ${formatPercent(t.connectionUse, 0)})`, value: use, threshold: t.connectionUse});
		const w = windowRatio(r.primary.history, 'database');
		if (w.ratio !== undefined && (w.seconds ?? 0) * 1000 >= cacheWindowMinMs && w.ratio < t.cacheHit)
			out.push({key: `${pn}:cache`, target: pn, kind: 'cache', text: `cache hit ${formatPercent(w.ratio, 1)} over ${formatDuration((w.seconds ?? 0) * 1000)} (< ${formatPercent(t.cacheHit, 0)})`, value: w.ratio, threshold: t.cacheHit});
		for (const [id, key, label] of latencyTargets) {
			const l = r.primary.latency?.[id];
			const limit = t[key];
			if (l && l.p95Ms > limit)
				out.push({key: `${pn}:latency:${id}`, target: pn, kind: 'latency', text: `${label} p95≈${Math.round(l.p95Ms)}ms (mean ${Math.round(l.meanMs)}ms, ${l.calls} calls; > ${limit}ms)`, value: l.p95Ms, threshold: limit});
		}
		const hanging = p.hangingActive + p.hangingIdleTx;
		if (hanging > 0)
			out.push({
				key: `${pn}:hanging`,
				target: pn,
				kind: 'hanging',
				text: `${hanging} hanging (${p.hangingActive} active > ${formatDuration(r.hanging.activeMs)}, ${p.hangingIdleTx} idle in tx > ${formatDuration(r.hanging.idleTxMs)})`,
				value: hanging,
			});
		if (p.lockWaits > 0)
			out.push({key: `${pn}:locks`, target: pn, kind: 'locks', text: `${p.lockWaits} lock wait${p.lockWaits === 1 ? '' : 's'} > ${formatDuration(t.lockWaitMs)} (longest ${formatDuration(p.longestLockWaitMs)})`, value: p.longestLockWaitMs ?? undefined, threshold: t.lockWaitMs});
		for (const s of p.inactiveSlots)
			if (s.retainedBytes !== null && s.retainedBytes > t.slotRetainedBytes)
				out.push({key: `${pn}:slot:${s.name}`, target: pn, kind: 'slot', text: `inactive slot ${s.name} retains ${formatBytes(s.retainedBytes)} of WAL (> ${formatBytes(t.slotRetainedBytes)})`, value: s.retainedBytes, threshold: t.slotRetainedBytes});
		// Without --replica, the primary's own view of its standbys is all there is.
		if (r.replicas.length === 0)
			for (const s of p.standbys)
				if (s.replayLagMs !== null && s.replayLagMs > t.maxLagMs)
					out.push({key: `${pn}:standby:${s.name}`, target: pn, kind: 'replica-lag', text: `standby ${s.name || s.client || '?'} replay lag ${formatDuration(s.replayLagMs)} (> ${formatDuration(t.maxLagMs)})`, value: s.replayLagMs, threshold: t.maxLagMs});
	}
	for (const rep of r.replicas) {
		if (rep.down) out.push({key: `${rep.name}:down`, target: rep.name, kind: 'target-down', text: `${rep.name} unreachable: ${rep.down}`});
		const s = rep.sample;
		if (!s || rep.down) continue;
		const over = replicaLagOver(s, t);
		if (!s.inRecovery) out.push({key: `${rep.name}:not-standby`, target: rep.name, kind: 'replica-lag', text: `${rep.name} is not in recovery: promoted, or not a standby`});
		else if (over === 'time' && s.lagMs !== null)
			out.push({key: `${rep.name}:lag`, target: rep.name, kind: 'replica-lag', text: `${rep.name} lag ${formatDuration(s.lagMs)}${s.paused ? ' (replay paused)' : ''} (> ${formatDuration(t.maxLagMs)})`, value: s.lagMs, threshold: t.maxLagMs});
		else if (over === 'bytes' && s.replayBehindBytes !== null)
			out.push({
				key: `${rep.name}:lag`,
				target: rep.name,
				kind: 'replica-lag',
				text: `${rep.name} ${formatBytes(s.replayBehindBytes)} received, not replayed${s.lagMs === null ? ', no commit replayed since it started' : ''}${s.paused ? ' (replay paused)' : ''} (> ${formatBytes(t.maxLagBytes)})`,
				value: s.replayBehindBytes,
				threshold: t.maxLagBytes,
			});
	}
	const b = r.pgbouncer;
	if (b?.down) out.push({key: `${b.name}:down`, target: b.name, kind: 'target-down', text: `${b.name} unreachable: ${b.down}`});
	else if (b?.sample && b.sample.waiting > t.pgbouncerWaiting)
		out.push({key: `${b.name}:waiting`, target: b.name, kind: 'pgbouncer-waiting', text: `${b.name} ${b.sample.waiting} client${b.sample.waiting === 1 ? '' : 's'} waiting (maxwait ${b.sample.maxwaitSeconds.toFixed(1)}s)`, value: b.sample.waiting, threshold: t.pgbouncerWaiting});
	return out;
}

export type AlertEvent = {event: 'start' | 'stop'; at: number; alert: FiringAlert};

/**
 * Firing alerts and since when. A target that could not be read this round
 * keeps its alerts as they were: an unreachable replica is not a recovered one.
 */
export class AlertTracker {
	private readonly firing = new Map<string, FiringAlert>();

	update(alerts: readonly Alert[], now: number, unread: ReadonlySet<string> = new Set()): AlertEvent[] {
		const events: AlertEvent[] = [];
		const seen = new Set<string>();
		for (const a of alerts) {
			seen.add(a.key);
			const old = this.firing.get(a.key);
			const next: FiringAlert = {...a, since: old?.since ?? now};
			this.firing.set(a.key, next);
			if (!old) events.push({event: 'start', at: now, alert: next});
		}
		for (const [key, old] of this.firing) {
			if (seen.has(key) || (unread.has(old.target) && old.kind !== 'target-down')) continue;
			this.firing.delete(key);
			events.push({event: 'stop', at: now, alert: old});
		}
		return events;
	}

	list(): FiringAlert[] {
		return [...this.firing.values()].sort((a, b) => a.since - b.since || a.key.localeCompare(b.key));
	}
}
