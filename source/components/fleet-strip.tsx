import React from 'react';
import {Text} from 'ink';
import {useAppState} from '../context.js';
import type {FleetState, TargetStatus} from '../fleet/fleet.js';
import {clock, fit, formatBytes, formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';
import type {AppState} from '../store/store.js';

/** Lines the strips take: the alert strip whenever the sampler runs, the targets line when there is more than the primary. */
export function fleetRows(s: Pick<AppState, 'fleet'>): number {
	if (!s.fleet) return 0;
	return 1 + (s.fleet.targets.length > 1 ? 1 : 0);
}

/** A target's state in a few characters: `replica-1 ● lag 0.4s`, `pgbouncer ● 3 waiting`, `replica-2 ◌ down`. */
export function targetSummary(t: TargetStatus): {text: string; color: 'green' | 'yellow' | 'red'} {
	if (t.connection.status !== 'live') return {text: `${t.name} ◌ ${t.connection.status === 'reconnecting' ? `down (retry ${t.connection.attempt})` : t.connection.status}`, color: 'red'};
	if (t.error) return {text: `${t.name} ● error`, color: 'yellow'};
	if (t.kind === 'replica' && t.replica) {
		const r = t.replica;
		if (!r.inRecovery) return {text: `${t.name} ● not in recovery`, color: 'red'};
		// before the first commit is replayed the time lag is unknown, the bytes are not
		const lag = r.lagMs === null && r.replayBehindBytes !== null ? formatBytes(r.replayBehindBytes) : formatDuration(r.lagMs);
		return {text: `${t.name} ● lag ${lag}${r.paused ? ' paused' : ''}`, color: r.paused ? 'yellow' : 'green'};
	}
	if (t.kind === 'pgbouncer' && t.bouncer) return {text: `${t.name} ● ${t.bouncer.waiting} waiting`, color: t.bouncer.waiting > 0 ? 'yellow' : 'green'};
	return {text: `${t.name} ●`, color: 'green'};
}

/** What is firing, newest first, in `width` columns: cut by fit, not by Ink, so a cut never leaves a number short ('p95≈1576…'). */
export function alertLine(alerts: FleetState['alerts'], width: number): string {
	const text = `▲ ${alerts.length} alert${alerts.length === 1 ? '' : 's'}: ${[...alerts]
		.reverse()
		.map(a => `${sanitize(a.text, Math.max(20, width))} since ${clock(a.since)}`)
		.join(' · ')}`;
	return fit(text, width).trimEnd();
}

/** Under the tabs on every screen: each target's state (with replicas or pgBouncer), then what is firing and since when, newest first. */
export function FleetStrip() {
	const {fleet, width} = useAppState(s => ({fleet: s.fleet, width: s.size.columns}));
	if (!fleet) return null;
	const alerts = fleet.alerts;
	return (
		<>
			{fleet.targets.length > 1 ? (
				<Text wrap="truncate-end">
					{fleet.targets.map((t, i) => {
						const s = targetSummary(t);
						return (
							<Text key={t.name}>
								{i > 0 ? ' · ' : ''}
								<Text color={s.color}>{s.text}</Text>
							</Text>
						);
					})}
				</Text>
			) : null}
			<Text wrap="truncate-end">
				{alerts.length === 0 ? (
					<Text dimColor>✓ no alerts</Text>
				) : (
					<Text color="red" bold>
						{alertLine(alerts, width)}
					</Text>
				)}
			</Text>
		</>
	);
}
