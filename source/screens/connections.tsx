import React, {useMemo} from 'react';
import {Box, Text} from 'ink';
import {isConsoleOperation} from '../actions/kill.js';
import {BackendDetails} from '../components/connections-details.js';
import {KillResultsPanel, requestKill, resultsLines, type KillResults} from '../components/connections-kill.js';
import {LockTree} from '../components/connections-locks.js';
import {GroupsTable, groupRows, SessionSummary, summaryLines} from '../components/connections-summary.js';
import {markBouncerSessions} from '../components/pgbouncer-mark.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {Table, type Column} from '../components/table.js';
import {TextField} from '../components/text-field.js';
import {useAppState, useCommands, useServices} from '../context.js';
import {compileFilter, groupWorkers, isParallelWorker, nextSort, sortOrders, stateLabel, viewBackends, waitLabel, type Backend, type ConnectionsData, type SortId, type WorkerGroups} from '../db/connections.js';
import {formatDuration} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';
import {setMessage, setUi, type AppState} from '../store/store.js';
import type {ConnectionsView as View} from '../store/view-state.js';

const views: readonly View[] = ['sessions', 'groups', 'locks'];

const resultRows = 5;
// a stable empty list: the state selector compares shallowly, and a fresh [] would re-render forever
const noTags: string[] = [];

/** The column each sort key shows in, marked in the header. */
const sortColumn: Record<SortId, string> = {
	xact: 'xact',
	query: 'query-age',
	'state-age': 'state-age',
	pid: 'pid',
	user: 'user',
	application: 'app',
	database: 'db',
	state: 'state',
	wait: 'wait',
	client: 'client',
};

function columns(groups: WorkerGroups): Column<Backend>[] {
	return [
		{key: 'pid', title: 'pid', width: 7, align: 'right', value: b => (groups.nested.has(b.key) ? `└${b.pid}` : String(b.pid))},
		{key: 'user', title: 'user', width: 10, grow: 1, priority: 4, ident: true, value: b => sanitize(b.user, 60) || '-'},
		{key: 'app', title: 'application', width: 12, grow: 1, priority: 6, ident: true, value: b => sanitize(b.application, 60) || '-'},
		{key: 'db', title: 'database', width: 10, priority: 2, ident: true, value: b => sanitize(b.database, 60) || '-'},
		{key: 'client', title: 'client', width: 15, priority: 1, ident: true, value: b => (b.clientPort === -1 ? 'local' : sanitize(b.clientHost ?? b.clientAddr, 60) || '-')},
		{key: 'state', title: 'state', width: 10, value: stateLabel},
		// 13: the short labels of the usual waits stay whole (Timeout:Sleep, Client:Read, Lock:txid)
		{key: 'wait', title: 'wait', width: 13, priority: 3, ident: true, value: b => sanitize(waitLabel(b), 50)},
		{key: 'xact', title: 'xact age', width: 8, align: 'right', priority: 7, value: b => formatDuration(b.xactMs)},
		{key: 'query-age', title: 'qry age', width: 7, align: 'right', priority: 5, value: b => formatDuration(b.queryMs)},
		{key: 'state-age', title: 'in state', width: 8, align: 'right', priority: 0, value: b => formatDuration(b.stateMs)},
		{
			key: 'query',
			title: 'query',
			width: 24,
			grow: 4,
			value: b => {
				const workers = groups.workers.get(b.pid);
				const text = b.hidden ? '(hidden: GRANT pg_monitor)' : sanitize(b.query, 400);
				return workers ? `[${workers} worker${workers === 1 ? '' : 's'}${groups.nested.has(b.key) ? '' : ', w shows'}] ${text}` : text;
			},
		},
	];
}

function rowStyle(b: Backend) {
	if (b.hanging) return {color: 'red', bold: true};
	if (b.waitEventType === 'Lock') return {color: 'yellow'};
	if (b.own) return {color: 'cyan'};
	if (b.state === 'idle' || b.hidden) return {dim: true};
	return undefined;
}

/** Sessions of the whole server: summary, the list (or groups, or the lock tree), details, and the kill keys. */
export function ConnectionsScreen() {
	return <ScreenFrame screen="connections">{data => <Connections data={data} />}</ScreenFrame>;
}

type Ui = {
	view: View;
	filter: string;
	filterBefore: string;
	filterEditing: boolean;
	sort: SortId;
	reverse: boolean;
	tags: string[];
	/** leaders whose parallel workers are listed under them */
	expanded: string[];
	/** the session shown in full, as it was when opened (kept when it ends) */
	details?: Backend;
	detailsScroll: number;
	results?: KillResults;
};

/** The screen's view state; handlers read it at key time, so keys that arrive faster than renders all count. */
function connectionsUi(st: AppState): Ui {
	const u = st.ui.connections ?? {};
	return {
		view: u.view ?? 'sessions',
		filter: u.filter ?? '',
		filterBefore: u.filterBefore ?? '',
		filterEditing: Boolean(u.filterEditing),
		sort: u.sort ?? 'xact',
		reverse: Boolean(u.reverse),
		tags: u.tags ?? noTags,
		expanded: u.expanded ?? noTags,
		details: u.details,
		detailsScroll: u.detailsScroll ?? 0,
		results: u.results,
	};
}

function Connections({data}: {data: ConnectionsData}) {
	const services = useServices();
	const {store} = services;
	const s = useAppState(st => ({...connectionsUi(st), width: st.size.columns, thresholds: st.thresholds, caps: st.caps, readOnly: st.readOnly, bouncerServers: st.fleet?.targets.find(t => t.kind === 'pgbouncer')?.bouncer?.servers}));
	const now = () => connectionsUi(store.getState());
	const set = (patch: Partial<Ui>) => setUi(store, 'connections', patch);

	const filter = useMemo(() => compileFilter(s.filter), [s.filter]);
	const sorted = useMemo(() => viewBackends(data.backends, filter, s.sort, s.reverse), [data.backends, filter, s.sort, s.reverse]);
	const grouped = useMemo(() => groupWorkers(sorted, new Set(s.expanded)), [sorted, s.expanded]);
	const rows = grouped.rows;
	const sessionColumns = useMemo(() => columns(grouped), [grouped]);
	const keys = useMemo(() => rows.map(b => b.key), [rows]);
	// built on the first look-up (tags, details): a refresh of 10,000 sessions usually needs none
	const byKey = useMemo(() => {
		let index: Map<string, Backend> | undefined;
		return (key: string) => (index ??= new Map(data.backends.map(b => [b.key, b]))).get(key);
	}, [data.backends]);
	const tags = useMemo(() => new Set(s.tags.filter(k => byKey(k))), [s.tags, byKey]);
	const groups = useMemo(() => groupRows(data.summary), [data.summary]);
	const groupKeys = useMemo(() => groups.map(g => g.key), [groups]);
	const lockKeys = useMemo(() => data.lockTree.map(r => r.key), [data.lockTree]);

	const area = useFrameRows('connections');
	const resultsHeight = resultsLines(s.results, resultRows);
	const bodyHeight = Math.max(1, area - summaryLines(data.summary) - 1 - resultsHeight - 1);
	const details = s.details ? (byKey(s.details.key) ?? s.details) : undefined;

	const sel = useSelection('connections', keys, bodyHeight, {active: s.view === 'sessions' && !details});
	const lockSel = useSelection('connections', lockKeys, bodyHeight, {name: 'lockSelection', active: s.view === 'locks' && !details});
	const groupSel = useSelection('connections', groupKeys, bodyHeight, {name: 'groupSelection', active: s.view === 'groups' && !details});

	const selected = (): Backend | undefined => {
		if (details) return details;
		if (s.view === 'sessions') return rows[sel.selectedIndex];
		if (s.view === 'locks') return data.lockTree[lockSel.selectedIndex]?.backend;
		return undefined;
	};
	const kill = (mode: 'cancel' | 'terminate') => {
		const tagged = s.view === 'sessions' && !details && tags.size > 0 ? data.backends.filter(b => tags.has(b.key)) : undefined;
		const one = selected();
		if (!tagged && !one) {
			setMessage(store, s.view === 'groups' ? 'Choose a session in the sessions (or locks) view first: v switches.' : 'No session selected.', 'error');
			return;
		}
		requestKill(services, mode, tagged ?? [one!], data.backends);
	};
	const toggleTag = () => {
		const b = selected();
		if (!b) return;
		const current = now().tags;
		set({tags: current.includes(b.key) ? current.filter(k => k !== b.key) : [...current, b.key]});
	};
	const tagHanging = () => {
		// The console's own operations hang by age too (a concurrent build waits for snapshots): never tagged.
		const ours = rows.filter(b => b.hanging && (b.own || services.jobs.ownerOf(b.pid) || isConsoleOperation(b)));
		const hanging = rows.filter(b => b.hanging && !ours.includes(b));
		const skipped = ours.length ? ` Not tagged: ${ours.map(b => `pid ${b.pid} (${services.jobs.ownerOf(b.pid)?.title ?? sanitize(b.application, 40)})`).join(', ')}, intowork-db's own.` : '';
		if (hanging.length === 0) {
			setMessage(store, `No hanging session${s.filter ? ' matches the filter' : ''} (active > ${formatDuration(s.thresholds.hangingActiveMs)}, idle in transaction > ${formatDuration(s.thresholds.hangingIdleTxMs)}).${skipped}`);
			return;
		}
		set({tags: [...new Set([...tags, ...hanging.map(b => b.key)])], view: 'sessions'});
		setMessage(store, `Tagged ${hanging.length} hanging session${hanging.length === 1 ? '' : 's'}${s.filter ? ' (of those the filter shows)' : ''}: c cancels, k terminates.${skipped}`);
	};
	const toggleWorkers = () => {
		const b = selected();
		const leader = b && isParallelWorker(b) ? data.backends.find(l => l.pid === b.leaderPid) : b;
		if (!leader || !grouped.workers.has(leader.pid)) {
			setMessage(store, 'The selected session runs no parallel workers.');
			return;
		}
		const current = now().expanded;
		set({expanded: current.includes(leader.key) ? current.filter(k => k !== leader.key) : [...current, leader.key]});
	};
	const back = () => {
		const u = now();
		if (u.details) set({details: undefined});
		else if (u.results) set({results: undefined});
		else if (u.filter) set({filter: ''});
		else if (u.tags.length > 0) set({tags: []});
	};

	useCommands(
		{
			// the filter narrows the session list, so that is where it takes the user
			'connections.filter': () => set({filterEditing: true, filterBefore: now().filter, view: 'sessions'}),
			'connections.sort': () => set({sort: nextSort(now().sort), reverse: false}),
			'connections.reverse': () => set({reverse: !now().reverse}),
			'connections.view': () => set({view: views[(views.indexOf(now().view) + 1) % views.length]}),
			'connections.tag': toggleTag,
			'connections.tagHanging': tagHanging,
			'connections.workers': toggleWorkers,
			'connections.cancel': () => kill('cancel'),
			'connections.terminate': () => kill('terminate'),
			details: () => {
				const b = selected();
				if (b) set({details: b, detailsScroll: 0});
			},
			back,
		},
		!s.filterEditing,
	);

	if (details) {
		return <BackendDetails backend={details} ended={!byKey(details.key)} all={data.backends} width={s.width} height={area} />;
	}
	const order = sortOrders.find(o => o.id === s.sort)!;
	const arrow = order.descending !== s.reverse ? '↓' : '↑';
	return (
		<Box flexDirection="column">
			<SessionSummary summary={data.summary} thresholds={s.thresholds} caps={s.caps} width={s.width} />
			{s.filterEditing ? (
				<TextField
					label="Filter (regex over user, application, database, query): "
					initial={s.filter}
					onChange={value => set({filter: value})}
					onSubmit={value => set({filter: value, filterEditing: false})}
					onCancel={() => set({filter: s.filterBefore, filterEditing: false})}
				/>
			) : (
				<Text wrap="truncate-end">
					<Text bold>{s.view}</Text>
					<Text dimColor> (v)</Text>
					{s.filter && s.view === 'sessions' ? (
						<Text>
							{' '}
							· filter <Text color="cyan">/{sanitize(s.filter, 60)}/</Text> {rows.length} of {data.backends.length}
						</Text>
					) : null}
					{filter.error && s.view === 'sessions' ? <Text color="red"> {filter.error}</Text> : null}
					{s.view === 'sessions' ? ` · sort ${order.title} ${arrow}` : ''}
					{tags.size > 0 ? <Text color="magenta"> · {tags.size} tagged</Text> : null}
					{s.view === 'locks' && data.lockTree.length > 0 && !s.readOnly ? <Text dimColor> · c/k on a blocker releases its waiters</Text> : null}
					<Text dimColor> · * tagged ! hanging ~ lock wait @ this console</Text>
				</Text>
			)}
			{s.results ? <KillResultsPanel results={s.results} maxLines={resultRows} /> : null}
			{s.view === 'sessions' ? (
				<Table
					columns={markBouncerSessions(sessionColumns, s.bouncerServers)}
					rows={rows}
					sort={{key: sortColumn[s.sort], descending: order.descending !== s.reverse}}
					rowKey={b => b.key}
					width={s.width}
					height={bodyHeight}
					selection={sel}
					rowStyle={rowStyle}
					mark={b => `${tags.has(b.key) ? '*' : ' '}${b.own || services.jobs.ownerOf(b.pid) ? '@' : b.hanging ? '!' : b.waitEventType === 'Lock' ? '~' : ' '}`}
					emptyText={s.filter ? `No session matches /${sanitize(s.filter, 60)}/ (Esc clears the filter).` : 'No sessions.'}
				/>
			) : s.view === 'locks' ? (
				<LockTree rows={data.lockTree} width={s.width} height={bodyHeight} selection={lockSel} />
			) : (
				<GroupsTable rows={groups} width={s.width} height={bodyHeight} selection={groupSel} />
			)}
		</Box>
	);
}
