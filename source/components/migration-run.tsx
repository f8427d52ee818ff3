import React from 'react';
import {Box, Text} from 'ink';
import type {Probe} from '../actions/migration/probe.js';
import type {RunView} from '../actions/migration/run.js';
import {formatDuration, formatMs} from '../format.js';
import {sanitize} from '../sanitize.js';
import {progressText} from './migration-objects.js';

const outcomeColor: Record<RunView['outcome'], string | undefined> = {running: 'cyan', ok: 'green', failed: 'red', cancelled: 'yellow', interrupted: 'red', refused: 'red'};

function probeText(p: Probe): string {
	return 'error' in p ? `not measured: ${p.error}` : `${p.scan} · p50 ${formatMs(p.p50Ms)} · p95 ${formatMs(p.p95Ms)} (${p.runs} searches)`;
}

/** How many lines MigrationRun takes, so the screen can size the rest. */
export function runPanelHeight(run: RunView | undefined): number {
	if (!run) return 0;
	if (run.outcome !== 'running') return 1 + (run.before ? 1 : 0) + (run.after ? 1 : 0);
	const current = run.steps.find(s => s.status === 'running');
	return 1 + (current?.progress?.waitingFor.length ? Math.min(3, current.progress.waitingFor.length) : 0) + (run.via === 'alembic' ? 3 : 0) + (run.before ? 1 : 0);
}

/** The run in progress (or the last one): what it is doing, whom it waits for, and the job list before and after. */
export function MigrationRunPanel(props: {run: RunView; now: number; width: number}) {
	const {run, now} = props;
	const current = run.steps.find(s => s.status === 'running');
	const done = run.steps.filter(s => s.status === 'done').length;
	const todo = run.steps.filter(s => s.status !== 'skipped').length;
	const verb = run.kind === 'apply' ? 'Apply' : 'Downgrade';
	const via = run.via === 'alembic' ? ' via alembic' : '';
	const waiting = current?.progress?.waitingFor ?? [];
	return (
		<Box flexDirection="column" width={props.width}>
			{run.outcome === 'running' ? (
				<Text wrap="truncate-end">
					<Text bold color="cyan">
						{verb}
						{via} running {formatDuration(now - run.startedAt)}
					</Text>
					{` · ${done}/${todo} done${run.buildPid ? ` · build pid ${run.buildPid}` : ''}${run.cancelling ? ' · cancelling…' : ''}`}
					{current ? ` · ${current.name}: ${progressText(current) || current.note || 'starting'}` : ''}
				</Text>
			) : (
				<Text wrap="truncate-end" color={outcomeColor[run.outcome]}>
					{run.outcome === 'ok' ? '✓ ' : '✗ '}
					{sanitize(run.message ?? run.outcome, 1000)}
				</Text>
			)}
			{run.outcome === 'running'
				? waiting.slice(0, 3).map(w => (
						<Text key={w.pid} wrap="truncate-end" color="yellow">
							{`  waiting for pid ${w.pid} ${w.application || '(no application_name)'} ${w.state}${w.xactMs === undefined || w.xactMs === null ? '' : ` for ${formatDuration(w.xactMs)}`}: ${w.query} — end it on the Connections screen (2, then k)`}
						</Text>
					))
				: null}
			{run.outcome === 'running' && run.via === 'alembic'
				? [0, 1, 2].map(i => (
						<Text key={i} wrap="truncate-end" dimColor>
							{`  alembic│ ${run.log[run.log.length - 3 + i] ?? ''}`}
						</Text>
					))
				: null}
			{run.before ? <Text wrap="truncate-end">{`Job list before  ${probeText(run.before)}`}</Text> : null}
			{run.after ? <Text wrap="truncate-end" color="green">{`Job list after   ${probeText(run.after)}`}</Text> : null}
		</Box>
	);
}
