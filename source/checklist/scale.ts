import type {FleetState} from '../fleet/fleet.js';
import {formatBytes, formatDuration} from '../format.js';
import type {Verdict} from './items.js';

/** The runbook's next phases: shown under the scored items, never counted in the score. */
export type ScaleItem = {id: string; title: string; verdict: Verdict; evidence: string};

/**
 * Phase 2 (monitoring with alerts) and Phase 4 (10k+ users: read replicas and
 * pgBouncer), judged from what the console's own sampler sees right now.
 */
export function scaleItems(fleet: FleetState | undefined): ScaleItem[] {
	const onAlert = fleet?.paging ?? false;
	const t = fleet?.thresholds;
	const targets = fleet?.targets ?? [];
	const replicas = targets.filter(x => x.kind === 'replica');
	const primary = targets.find(x => x.kind === 'primary')?.primary;
	const bouncer = targets.find(x => x.kind === 'pgbouncer');
	const items: ScaleItem[] = [];
	items.push({
		id: 'p2-alerts',
		title: 'Phase 2: alerts configured',
		verdict: onAlert ? 'pass' : 'fail',
		evidence: onAlert ? 'alerts go to --on-alert (a pager), not only to this screen' : 'alerts only show on this screen: run `intowork-db watch --on-alert CMD` (or the console with --on-alert) where someone is paged',
	});
	const lags = replicas.map(r => r.replica?.lagMs).filter((x): x is number => typeof x === 'number');
	const standbyLags = (primary?.standbys ?? []).map(s => s.replayLagMs ?? 0);
	const all = lags.length > 0 ? lags : standbyLags;
	const maxLag = t?.maxLagMs ?? 10_000;
	items.push({
		id: 'p4-lag',
		title: `Phase 4: replica lag under ${formatDuration(maxLag)}`,
		verdict: all.length === 0 ? 'unknown' : Math.max(...all) <= maxLag ? 'pass' : 'fail',
		evidence: all.length === 0 ? 'no replica: give --replica DSN (or none streams from the primary)' : `worst lag now ${formatDuration(Math.max(...all))} over ${all.length} standby(s)`,
	});
	const slotLimit = t?.slotRetainedBytes ?? 1024 ** 3;
	const worst = Math.max(0, ...(primary?.inactiveSlots ?? []).map(s => s.retainedBytes ?? 0));
	items.push({
		id: 'p4-slots',
		title: `Phase 4: no slot retaining more than ${formatBytes(slotLimit)}`,
		verdict: !primary ? 'unknown' : worst > slotLimit ? 'fail' : 'pass',
		evidence: !primary ? 'the primary has not been sampled yet' : `${primary.inactiveSlots.length} inactive slot(s), the most WAL held ${formatBytes(worst)}`,
	});
	const b = bouncer?.bouncer;
	items.push({
		id: 'p4-pgbouncer',
		title: 'Phase 4: pgBouncer pool never waits',
		verdict: !bouncer ? 'unknown' : !b ? 'unknown' : b.waiting > 0 || b.maxwaitSeconds > 0 ? 'fail' : 'pass',
		evidence: !bouncer ? 'no pgBouncer: give --pgbouncer DSN' : !b ? 'not read yet' : `${b.waiting} waiting now, maxwait ${b.maxwaitSeconds.toFixed(1)}s`,
	});
	return items;
}
