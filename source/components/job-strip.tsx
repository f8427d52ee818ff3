import React from 'react';
import {useTicker} from '../hooks/use-ticker.js';
import {Text} from 'ink';
import {useStore} from 'zustand';
import {useShallow} from 'zustand/react/shallow';
import {useAppState, useServices} from '../context.js';
import {formatDuration} from '../format.js';
import type {JobsState, JobView} from '../jobs/registry.js';
import {screenIds} from '../keymap.js';
import {sanitize} from '../sanitize.js';

/** Read the job registry through a selector, as useAppState reads the app's state. */
export function useJobs<T>(selector: (s: JobsState) => T): T {
	return useStore(useServices().jobs.store, useShallow(selector));
}

/** Lines the strip takes: one while any job is running or has just finished. */
export function jobStripRows(s: Pick<JobsState, 'shown'>): number {
	return s.shown.length > 0 ? 1 : 0;
}

export function useJobStripRows(): number {
	return useJobs(jobStripRows);
}

function detailsKey(job: JobView): string {
	return job.screen ? ` (${screenIds.indexOf(job.screen) + 1} for details)` : '';
}

/** One job in a few words: what it does now and for how long, or how it ended. */
export function jobLine(job: JobView, now: number): string {
	const took = formatDuration((job.finishedAt ?? now) - job.startedAt);
	if (!job.result) {
		const p = job.progress;
		const parts = [
			`▸ ${job.title}${job.cancelling ? ': cancelling' : ''}${p ? `: ${p.text}${p.fraction !== undefined ? ` ${Math.floor(p.fraction * 100)}%` : ''}` : ''}`,
			p?.waitsFor?.length ? `waits for pid ${p.waitsFor.join(', ')}` : undefined,
			took,
		];
		return parts.filter(Boolean).join(' · ');
	}
	const {outcome, text} = job.result;
	if (outcome === 'ok') return `✓ ${job.title}: ${text} in ${took}`;
	if (outcome === 'cancelled') return `✗ ${job.title} cancelled: ${text}${detailsKey(job)}`;
	if (outcome === 'left running') return `… ${job.title} left running: ${text}`;
	return `✗ ${job.title} failed: ${text}${detailsKey(job)}`;
}

/** Under the header on every screen: the console's jobs, running ones first. */
export function JobStrip() {
	const shown = useJobs(s => s.shown);
	const width = useAppState(s => s.size.columns);
	const now = useTicker(shown.some(j => !j.result));
	if (shown.length === 0) return null;
	const ordered = [...shown.filter(j => !j.result), ...shown.filter(j => j.result).reverse()];
	const first = ordered[0]!;
	const color = !first.result ? 'yellow' : first.result.outcome === 'ok' ? 'green' : first.result.outcome === 'left running' ? 'yellow' : 'red';
	// Several jobs share the line: each gets its part, so the last one started is not cut off.
	const separator = '  │  ';
	const share = Math.max(12, Math.floor((width - separator.length * (ordered.length - 1)) / ordered.length));
	const parts = ordered.map(j => sanitize(jobLine(j, now), 1000)).map(l => (ordered.length > 1 && l.length > share ? `${l.slice(0, share - 1)}…` : l));
	return (
		<Text wrap="truncate-end" color={color}>
			{parts.join(separator)}
		</Text>
	);
}
