import React, {useEffect, useEffectEvent} from 'react';
import {useAppState, useServices} from '../context.js';
import {listQueryChars, readBackend, stateLabel, waitingBehind, type Backend} from '../db/connections.js';
import {clock, formatDuration} from '../format.js';
import {formatSql} from '../format-sql.js';
import {sanitize, sanitizeMultiline} from '../sanitize.js';
import {setUi} from '../store/store.js';
import {errorText} from '../errors.js';
import {TextView} from './text-view.js';

function since(iso: string | null, ms: number | null): string {
	if (!iso) return '-';
	return `${clock(new Date(iso))} (${formatDuration(ms)} ago)`;
}

function client(b: Backend): string {
	if (b.clientPort === -1) return 'local Unix socket';
	if (!b.clientAddr) return b.hidden ? 'hidden' : '-';
	const host = b.clientHost ? `${sanitize(b.clientHost, 100)} ` : '';
	return `${host}${b.clientAddr} port ${b.clientPort ?? '?'}`;
}

function detailLines(b: Backend, all: readonly Backend[], thresholds: {hangingActiveMs: number; hangingIdleTxMs: number}): string[] {
	const behind = waitingBehind(all, b.pid);
	const hanging =
		b.hanging === 'active'
			? `HANGING: active for ${formatDuration(b.queryMs)}, over ${formatDuration(thresholds.hangingActiveMs)}`
			: b.hanging === 'idle-tx'
				? `HANGING: idle in transaction for ${formatDuration(b.stateMs)}, over ${formatDuration(thresholds.hangingIdleTxMs)}`
				: undefined;
	const wait = b.waitEventType ? `${sanitize(b.waitEventType, 40)}: ${sanitize(b.waitEvent, 60)}` : 'not waiting';
	return [
		`pid ${b.pid}${b.own ? '  (this console)' : ''}${hanging ? `  ${hanging}` : ''}`,
		`user / database   ${sanitize(b.user, 60) || '-'} / ${sanitize(b.database, 60) || '-'}`,
		`application       ${sanitize(b.application, 100) || '-'}`,
		`client            ${client(b)}`,
		`backend type      ${b.backendType ?? 'hidden (GRANT pg_monitor)'}${b.leaderPid ? `, leader pid ${b.leaderPid}` : ''}`,
		`state             ${stateLabel(b)} for ${formatDuration(b.stateMs)}`,
		`wait              ${wait}${b.blockedBy.length ? `, ${formatDuration(b.lockWaitMs)}, blocked by pid ${b.blockedBy.join(', ')}` : ''}`,
		`blocks            ${behind.all.length ? `${behind.direct.length} directly, ${behind.all.length} in all` : 'nobody'}`,
		`transaction       ${b.xactMs === null ? 'none open' : `open for ${formatDuration(b.xactMs)}`}`,
		`query start       ${since(b.queryStart, b.queryMs)}`,
		`session start     ${since(b.backendStart, b.backendMs)}`,
	];
}

/** Enter on a session: everything about it and its whole query, pretty-printed; ↑/↓ scroll, Esc goes back. */
export function BackendDetails(props: {backend: Backend; ended: boolean; all: readonly Backend[]; width: number; height: number}) {
	const {store, db} = useServices();
	const b = props.backend;
	const {thresholds, full, scroll} = useAppState(s => ({
		thresholds: s.thresholds,
		full: s.ui.connections?.fullQuery,
		scroll: s.ui.connections?.detailsScroll ?? 0,
	}));
	const needsFetch = (b.query?.length ?? 0) >= listQueryChars && !props.ended;
	// the text belongs to one query of one backend: a new query reads it again
	const textKey = `${b.key}|${b.queryStart ?? ''}`;
	const fetchFull = useEffectEvent(() => {
		if (full?.key === textKey) return;
		readBackend(db, b)
			.then(now => setUi(store, 'connections', {fullQuery: {key: textKey, text: now?.query ?? undefined}}))
			.catch((error: unknown) => setUi(store, 'connections', {fullQuery: {key: textKey, error: errorText(error)}}));
	});
	useEffect(() => {
		if (needsFetch) fetchFull();
	}, [needsFetch, textKey]);

	const fetched = full?.key === textKey ? full : undefined;
	const queryText = fetched?.text ?? b.query ?? '';
	const queryNote = b.hidden
		? 'query hidden from this role (GRANT pg_monitor)'
		: needsFetch && !fetched
			? 'reading the whole text…'
			: fetched?.error
				? `could not read the whole text (${sanitize(fetched.error, 200)}); the first ${listQueryChars} characters:`
				: needsFetch && fetched && fetched.text === undefined
					? 'the session has moved on; the text as last seen:'
					: undefined;
	const lines = [
		...(props.ended ? ['This session has ended; details as last seen.'] : []),
		...detailLines(b, props.all, thresholds),
		'',
		...(queryNote ? [queryNote] : []),
		...(b.hidden ? [] : sanitizeMultiline(formatSql(queryText), 500, 2000).split('\n')),
	];
	return (
		<TextView
			title="Session details"
			lines={lines.map((text, i) => (i === 0 && b.hanging ? {text, color: 'red'} : text))}
			height={props.height - 1}
			scroll={scroll}
			onScroll={top => setUi(store, 'connections', {detailsScroll: top})}
			back
			width={props.width}
		/>
	);
}
