import React from 'react';
import {Box, Text} from 'ink';
import {
	executeKill,
	planKill,
	recordRefusals,
	resultLabels,
	settledResults,
	stillRunning,
	tally,
	targetHead,
	toKillTarget,
	type KillMode,
	type KillOutcome,
	type KillTarget,
} from '../actions/kill.js';
import type {Services} from '../context.js';
import {waitingBehind, type Backend} from '../db/connections.js';
import {clock, formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';
import type {JobView} from '../jobs/registry.js';
import {setMessage, setUi} from '../store/store.js';
import {errorText} from '../errors.js';
import {contentRows} from '../hooks/use-frame-rows.js';
import {jobStripRows} from './job-strip.js';

/** How long a cancelled query may keep running before the console offers terminate. */
const escalateAfterMs = 3000;

export type KillResults = {
	mode: KillMode;
	at: number;
	outcomes: Array<{pid: number; user: string | null; application: string; result: KillOutcome['result']; detail?: string}>;
};

const verb = (mode: KillMode) => (mode === 'cancel' ? 'Cancel' : 'Terminate');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function blockerLine(all: readonly Backend[], b: Backend): string | undefined {
	const behind = waitingBehind(all, b.pid);
	if (behind.all.length === 0) return undefined;
	return `  pid ${b.pid} blocks ${plural(behind.all.length, 'session')} (${behind.direct.length} directly); ending it frees ${behind.released.length} now`;
}

// A dialog cannot scroll: the first targets in full (two lines each), every other one by pid.
function targetLines(targets: readonly KillTarget[], room: number): string[] {
	const full = (t: KillTarget) => [targetHead(t), `    ${sanitize(t.query, 300)}`];
	if (targets.length * 2 <= room) return targets.flatMap(full);
	const shown = Math.max(1, Math.floor((room - 1) / 2));
	const rest = targets.slice(shown).map(t => t.pid);
	return [...targets.slice(0, shown).flatMap(full), `… and ${rest.length} more: pids ${rest.join(', ')}`];
}

function cappedNotes(notes: string[], room: number): string[] {
	if (notes.length <= room) return notes;
	return [...notes.slice(0, Math.max(0, room - 1)), `… and ${notes.length - Math.max(0, room - 1)} more notes, all in the results afterwards`];
}

type Request = {
	mode: KillMode;
	targets: KillTarget[];
	/** lines under the targets: protections, refusals, lock waiters */
	notes: string[];
	/** a protected session is among the targets */
	extraConfirm: boolean;
	/** refusals already in the audit log, shown with the results */
	refused?: KillOutcome[];
	title?: string;
};

function openDialog(services: Services, request: Request) {
	const {store} = services;
	const {mode, targets} = request;
	// what the shell (its strips included) and the dialog's own 9 lines leave for targets and notes
	const room = Math.max(4, contentRows(store.getState(), jobStripRows(services.jobs.store.getState())) - 9);
	const noteRoom = Math.min(request.notes.length, Math.floor(room / 2));
	const explain =
		mode === 'cancel'
			? 'pg_cancel_backend: the running query stops with an error; the session stays connected.'
			: 'pg_terminate_backend: the session ends and its open transaction rolls back.';
	const typed = mode === 'terminate' && targets.length > 1 ? String(targets.length) : request.extraConfirm ? 'yes' : undefined;
	// the last action's results do not stand next to the next one (the Activity screen keeps them)
	setUi(store, 'connections', {results: undefined});
	store.setState({
		dialog: {
			title: request.title ?? `${verb(mode)} ${plural(targets.length, 'session')}?`,
			lines: [
				explain,
				`Sent only while pid and start time${mode === 'cancel' ? ' and query' : ''} are still what is shown here.`,
				...targetLines(targets, room - noteRoom),
				...cappedNotes(request.notes, noteRoom),
			],
			confirmLabel: mode === 'cancel' ? 'send the cancel' : 'terminate',
			typed,
			onConfirm: () => run(services, request),
			onCancel: () => setMessage(store, 'Nothing was sent.'),
		},
	});
}

function scheduleEscalation(services: Services, cancelled: KillTarget[], extraConfirm: boolean) {
	const timer = setTimeout(() => {
		stillRunning(services.db, cancelled)
			.then(pids => {
				const still = cancelled.filter(t => pids.includes(t.pid));
				if (still.length === 0) return;
				const after = `${formatDuration(escalateAfterMs)} after the cancel`;
				if (services.store.getState().dialog) {
					setMessage(services.store, `pid ${still.map(t => t.pid).join(', ')} still running ${after}: k terminates`, 'error');
					return;
				}
				openDialog(services, {
					mode: 'terminate',
					targets: still,
					notes: ['Not stopped by the cancel: stuck where it cannot be interrupted, or trapping the cancel.'],
					extraConfirm,
					title: `Still running ${after}: terminate ${plural(still.length, 'session')}?`,
				});
			})
			.catch(() => undefined);
	}, escalateAfterMs);
	timer.unref?.();
}

// A job: its progress is on the strip (not a message that outlives it), its session is the console's own, quit cancels it.
function run(services: Services, request: Request) {
	const {store, target, refreshNow, jobs} = services;
	const role = store.getState().caps?.role ?? target.user;
	const total = request.targets.length;
	const doing = request.mode === 'cancel' ? 'cancelling' : 'terminating';
	jobs.start({
		kind: 'kill',
		title: `${request.mode} of ${plural(total, 'session')}`,
		screen: 'connections',
		leaves: 'the sessions not signalled yet are left alone; those signalled stay so',
		run: async job => {
			let outcomes: KillOutcome[];
			try {
				outcomes = await executeKill(target, request.mode, request.targets, {
					via: 'console',
					role,
					signal: job.signal,
					onPid: pid => job.addPid(pid),
					onProgress: done => job.progress({text: `${doing} pid ${request.targets[done]?.pid ?? '?'} (${done + 1}/${total})`, fraction: done / total}),
				});
			} catch (error) {
				const text = `${verb(request.mode)} failed: ${sanitize(errorText(error), 300)}`;
				setMessage(store, text, 'error');
				return {ok: false, text};
			}
			showResults(services, request.mode, [...outcomes, ...(request.refused ?? [])]);
			refreshNow();
			const cancelled = outcomes.filter(o => o.result === 'cancelled').map(o => o.target);
			if (cancelled.length > 0) scheduleEscalation(services, cancelled, request.extraConfirm);
			return {ok: outcomes.every(o => settledResults.has(o.result)), text: tally(outcomes)};
		},
	});
}

function showResults(services: Services, mode: KillMode, outcomes: KillOutcome[]) {
	const {store} = services;
	const results: KillResults = {
		mode,
		at: Date.now(),
		outcomes: outcomes.map(o => ({pid: o.target.pid, user: o.target.user, application: o.target.application, result: o.result, detail: o.detail})),
	};
	setUi(store, 'connections', {results, tags: []});
	const ok = outcomes.every(o => settledResults.has(o.result));
	setMessage(store, `${verb(mode)}: ${tally(outcomes)}`, ok ? 'ok' : 'error');
}

/**
 * c and k: refuse what must not be touched (and log the refusal), then ask,
 * listing every target; a protected session or several terminations need
 * typing rather than one key.
 */
export function requestKill(services: Services, mode: KillMode, chosen: readonly Backend[], all: readonly Backend[]) {
	const {store, target, jobs} = services;
	const role = store.getState().caps?.role ?? target.user;
	const job = chosen.length === 1 ? jobs.ownerOf(chosen[0]!.pid) : undefined;
	if (job) return stopOwnJob(services, mode, chosen[0]!, job);
	const plan = planKill(chosen, role, {ownerOf: pid => jobs.ownerOf(pid), several: chosen.length > 1});
	// logged now: the console has refused, whatever the user does with the rest
	const refused = recordRefusals(target, role, mode, plan.refuse, 'console');
	const refusalNotes = plan.refuse.map(r => `✗ pid ${r.backend.pid} refused: ${r.reason}`);
	const confirmNotes = plan.confirm.map(c => `⚠ pid ${c.backend.pid} protected, ${c.reason}`);
	const chosenBackends = [...plan.act, ...plan.confirm.map(c => c.backend)];
	if (chosenBackends.length === 0) {
		showResults(services, mode, refused);
		return;
	}
	const idle = mode === 'cancel' ? chosenBackends.filter(b => b.state !== 'active') : [];
	const notes = [
		...confirmNotes,
		...refusalNotes,
		...(idle.length > 0 ? [`  ${idle.map(b => `pid ${b.pid}`).join(', ')}: not running a query, a cancel does nothing; k terminates`] : []),
		...chosenBackends.map(b => blockerLine(all, b)).filter((l): l is string => l !== undefined),
	];
	openDialog(services, {mode, targets: chosenBackends.map(toKillTarget), notes, extraConfirm: plan.confirm.length > 0, refused});
}

/**
 * One of this console's own sessions, chosen alone: never signalled as such
 * (a build stopped that way can leave a unique index without its
 * constraint). The job's own cancel stops the whole job cleanly, after a
 * typed yes and after saying what it is and what stopping it leaves.
 */
function stopOwnJob(services: Services, mode: KillMode, b: Backend, job: JobView) {
	const {store, jobs} = services;
	store.setState({
		dialog: {
			title: `pid ${b.pid} is this console's own ${job.title}: stop the job?`,
			lines: [
				`It is running ${formatDuration(Date.now() - job.startedAt)}${job.progress ? `: ${job.progress.text}` : ''}.`,
				`Not sent: a ${mode === 'cancel' ? 'cancel' : 'termination'} of this session alone stops it half-way, nothing cleaned up.`,
				"Instead the job's own cancel stops it:",
				...job.leaves.split('; ').map(l => `  ${l}`),
			].map(l => sanitize(l, 400)),
			confirmLabel: `cancel the ${job.title}`,
			typed: 'yes',
			onConfirm: () => {
				setMessage(store, `cancelling the ${job.title}…`);
				void jobs.cancel(job.id);
			},
			onCancel: () => setMessage(store, 'Nothing was sent.'),
		},
	});
}

const resultColor = (r: KillOutcome['result']) => (settledResults.has(r) ? (r === 'changed' || r === 'gone' ? 'yellow' : 'green') : 'red');

/** What the last action did, target by target, until Esc. */
export function KillResultsPanel(props: {results: KillResults; maxLines: number}) {
	const {results, maxLines} = props;
	const shown = results.outcomes.slice(0, Math.max(1, maxLines - 1));
	const more = results.outcomes.length - shown.length;
	return (
		<Box flexDirection="column">
			<Text bold wrap="truncate-end">
				{verb(results.mode)} at {clock(results.at)}: {tally(results.outcomes)} <Text dimColor>(Esc to dismiss)</Text>
			</Text>
			{shown.map(o => (
				<Text key={o.pid} wrap="truncate-end">
					{'  '}pid {o.pid} {sanitize(o.user, 20)} {sanitize(o.application, 30)}: <Text color={resultColor(o.result)}>{resultLabels[o.result]}</Text>
					{o.detail ? ` (${o.detail})` : ''}
				</Text>
			))}
			{more > 0 ? <Text dimColor>  … {more} more in the Activity screen</Text> : null}
		</Box>
	);
}

/** Lines KillResultsPanel takes. */
export function resultsLines(results: KillResults | undefined, maxLines: number): number {
	if (!results) return 0;
	const shown = Math.min(results.outcomes.length, Math.max(1, maxLines - 1));
	return 1 + shown + (results.outcomes.length > shown ? 1 : 0);
}
