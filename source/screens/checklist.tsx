import fs from 'node:fs';
import React, {useEffect, useEffectEvent, useMemo, useReducer, useState} from 'react';
import {Box, Text} from 'ink';
import {targetKey} from '../state.js';
import {assemble, collectDb, collectLocal, type DbEvidence, type LocalEvidence} from '../checklist/checklist.js';
import {itemDef, type ItemId, type ItemResult, type Verdict} from '../checklist/items.js';
import {loadTestHeadroom, runLoadTest, saveLoadTest, summary} from '../checklist/load-test.js';
import {headline, indented, readiness, verdictLabel} from '../checklist/report.js';
import {currentSignOff, osUserName, recordHistory, signOff, withdrawSignOff, type HistoryEntry} from '../checklist/store.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {scaleItems, type ScaleItem} from '../checklist/scale.js';
import {Table, type Column} from '../components/table.js';
import {TextField} from '../components/text-field.js';
import {useAppState, useCommands, useServices} from '../context.js';
import {clock, formatDuration, formatMs, formatNumber} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';
import type {Loader} from '../store/poller.js';
import {putSlot, setMessage, setUi} from '../store/store.js';
import {errorText} from '../errors.js';
import {TextView} from '../components/text-view.js';

/** The console's load test: the runbook's 100 users, for a minute. */
export const consoleLoadTest = {clients: 100, durationMs: 60_000};

/** The server's half of the evidence; the slow checks inside are reused until due (checklist.ts cadence). */
export const loadChecklist: Loader<DbEvidence> = (ctx, previous) => collectDb(ctx.db, ctx.config.checklist, previous);

const verdictColor: Record<Verdict, string> = {pass: 'green', fail: 'red', unknown: 'yellow', 'signed-off': 'cyan'};

const columns: Column<ItemResult>[] = [
	{key: 'id', title: '#', width: 2, align: 'right', value: i => String(i.id)},
	{key: 'item', title: 'item', width: 30, grow: 2, value: i => i.title},
	{key: 'verdict', title: 'verdict', width: 10, value: i => verdictLabel[i.verdict]},
	{key: 'checked', title: 'checked', width: 8, priority: 2, value: i => (i.checkedAt ? clock(new Date(i.checkedAt)) : '-')},
	// the evidence is the verdict's reason: the fix key and the time go before it (the line under the list has the fix)
	{key: 'evidence', title: 'evidence', width: 16, grow: 3, priority: 4, value: i => sanitize(i.evidence[0] ?? '', 300)},
	{key: 'key', title: 'fix key', width: 22, grow: 1, priority: 3, value: i => (i.verdict === 'pass' ? '' : (i.action ?? (i.fix ? 'SQL/code below' : '')))},
];

type Form = {item: ItemId; step: 'who' | 'note' | 'path'; who: string; note: string};

/** The items' verdict changes, newest first, from the stored history. */
function transitions(history: readonly HistoryEntry[], id: ItemId): string[] {
	const out: string[] = [];
	let before: Verdict | undefined;
	for (const entry of history) {
		const verdict = entry.items.find(i => i.id === id)?.verdict;
		if (verdict && verdict !== before) out.push(`${entry.at.slice(0, 19).replace('T', ' ')} ${before ? `${verdictLabel[before]} -> ` : ''}${verdictLabel[verdict]} (${entry.source})`);
		before = verdict;
	}
	return out.reverse();
}

/** Everything behind one item: evidence, fix, key, sign-off, history, and the plans or timings it rests on. */
function detailLines(item: ItemResult, db: DbEvidence | undefined, local: LocalEvidence | undefined): string[] {
	const lines = [`${item.id} ${item.title}: ${verdictLabel[item.verdict]}${item.checkedAt ? ` (checked ${item.checkedAt.slice(0, 19).replace('T', ' ')})` : ''}`, ''];
	lines.push(...item.evidence.map(e => `  ${e}`));
	if (item.fix) lines.push('', 'Fix:', ...item.fix.map(f => `  ${f}`));
	if (item.action) lines.push('', `Key: ${item.action}`);
	if (item.id === 3 && db?.plans.value) {
		for (const plan of db.plans.value.plans) {
			lines.push('', `${plan.query}: ${plan.label}, parameters ${JSON.stringify(plan.params)}`, ...plan.lines.map(l => `  ${l}`));
		}
	}
	if (item.id === 10 && local?.loadTest) {
		lines.push('', 'Last load test, per query:');
		for (const [id, q] of Object.entries(local.loadTest.perQuery)) {
			if (q) lines.push(`  ${id.padEnd(22)} ${formatNumber(q.count).padStart(8)} runs  p50 ${formatMs(q.p50)}  p95 ${formatMs(q.p95)}  max ${formatMs(q.max)}${q.errors ? `  ${q.errors} errors` : ''}`);
		}
	}
	const history = local ? transitions(local.history, item.id) : [];
	if (history.length) lines.push('', 'History:', ...history.slice(0, 10).map(h => `  ${h}`));
	return lines;
}

export function ChecklistScreen() {
	return <ScreenFrame screen="checklist">{db => <Checklist db={db} />}</ScreenFrame>;
}

function Checklist({db}: {db: DbEvidence}) {
	const {store, target, db: monitor, config, jobs} = useServices();
	const s = useAppState(st => ({
		at: st.data.checklist?.at,
		readOnly: st.readOnly,
		width: st.size.columns,
		role: st.caps?.role,
		redacted: st.target,
		details: st.ui.checklist?.details,
		scroll: st.ui.checklist?.scroll ?? 0,
		progress: st.ui.checklist?.loadTest,
		fleet: st.fleet,
	}));
	const rows = useFrameRows('checklist');
	const key = useMemo(() => targetKey(target), [target]);
	const auditCtx = {key, role: s.role ?? target.user, target: s.redacted};
	const options = config.checklist;
	const [local, setLocal] = useState<LocalEvidence>();
	const [localVersion, reloadLocal] = useReducer((n: number) => n + 1, 0);
	const [form, setForm] = useState<Form>();

	// The machine's half (catalog, sign-offs, load test, backend) is read with every refresh of the server's half.
	useEffect(() => {
		let live = true;
		void collectLocal(key, options).then(l => live && setLocal(l));
		return () => {
			live = false;
		};
	}, [s.at, localVersion, key, options]);

	const report = useMemo(() => assemble(db, local, options, {readOnly: s.readOnly}), [db, local, options, s.readOnly]);
	const record = useEffectEvent((r: typeof report) => {
		if (local) recordHistory(auditCtx, r.items, r.score.score, 'console');
	});
	useEffect(() => record(report), [report]);

	const headerRows = 3 + (s.progress ? 1 : 0);
	// Under the table: a blank line, then the sign-off form (3 lines) or the selected item's title and
	// evidence. Everything must fit in `rows`: Ink squeezes overflowing lines on top of each other.
	const belowTable = form ? 4 : 2;
	const tableHeight = Math.max(1, Math.min(report.items.length, rows - headerRows - 1 - belowTable));
	const selection = useSelection(
		'checklist',
		report.items.map(i => String(i.id)),
		tableHeight,
		{active: s.details === undefined && !form},
	);
	const selected = report.items.find(i => String(i.id) === selection.selectedKey) ?? report.items[0]!;

	// A job, not a message: "checking again" is its progress on the strip and goes when the check is done.
	const recheck = () => {
		if (jobs.active('recheck')) return;
		jobs.start({
			kind: 'recheck',
			title: 'checklist re-check',
			screen: 'checklist',
			leaves: 'nothing: the checks only read; the last verdicts stay',
			run: async job => {
				job.progress('EXPLAIN plans and p95 timings included');
				const st = store.getState();
				if (!st.caps) return {ok: false, text: 'not connected'};
				const previous = st.data.checklist?.value;
				// A fingerprint no schema has makes the slow checks due.
				const forced = previous && {...previous, plans: {...previous.plans, fingerprint: 'recheck'}, latency: {...previous.latency, fingerprint: 'recheck'}};
				const ctx = {db: monitor, caps: st.caps, thresholds: st.thresholds, config, ownPid: st.connection.backendPid};
				const started = Date.now();
				const stopped = new Promise<never>((_, reject) => job.signal.addEventListener('abort', () => reject(new Error('stopped; the last verdicts stay')), {once: true}));
				const value = await Promise.race([loadChecklist(ctx, forced), stopped]);
				putSlot(store, 'checklist', value, started);
				const failed = [value.plans, value.latency].filter(slot => slot.value === undefined).length;
				return {ok: failed === 0, text: failed ? `${failed} of the slow checks could not run (see the items)` : 'EXPLAIN plans and p95 timings checked'};
			},
		});
	};

	const startSignOff = () => {
		if (!itemDef(selected.id).manual) return setMessage(store, `item ${selected.id} is checked by the console; items 8, 9 and 10 take a sign-off`, 'error');
		setForm({item: selected.id, step: 'who', who: osUserName(), note: ''});
	};

	const confirmSignOff = (f: Form, runbook: string) => {
		setForm(undefined);
		if (runbook && !fs.existsSync(runbook)) return setMessage(store, `no such runbook: ${sanitize(runbook, 200)}; nothing was signed`, 'error');
		const by = f.who.trim() || osUserName();
		store.setState({
			dialog: {
				title: `Sign off item ${f.item}: ${itemDef(f.item).title}`,
				lines: [`by ${by}${by === osUserName() ? '' : ` (typed by OS user ${osUserName()})`}`, `note: ${f.note || '(none)'}`, ...(runbook ? [`runbook: ${runbook}`] : []), `Recorded for ${s.redacted} and in the audit log.`],
				confirmLabel: 'sign off',
				onConfirm: () => {
					signOff(auditCtx, {item: f.item, by, note: f.note.trim(), ...(runbook ? {path: runbook} : {})});
					reloadLocal();
					setMessage(store, `item ${f.item} signed off by ${by}`, 'ok');
				},
			},
		});
	};

	const withdraw = () => {
		const current = local && currentSignOff(local.signOffs, selected.id);
		if (!current) return setMessage(store, `item ${selected.id} has no sign-off to withdraw`, 'error');
		store.setState({
			dialog: {
				title: `Withdraw the sign-off of item ${selected.id}`,
				lines: [`signed by ${current.by} at ${current.at}${current.note ? `: ${current.note}` : ''}`, 'The record stays in the file and the audit log, marked withdrawn.'],
				confirmLabel: 'withdraw',
				onConfirm: () => {
					withdrawSignOff(auditCtx, selected.id, osUserName());
					reloadLocal();
					setMessage(store, `sign-off of item ${selected.id} withdrawn`, 'ok');
				},
			},
		});
	};

	const loadTest = () => {
		if (jobs.active('load-test')) return setMessage(store, 'a load test is already running (Esc stops it)', 'error');
		const {clients, durationMs} = consoleLoadTest;
		void loadTestHeadroom(monitor, clients)
			.then(headroom => {
				if (!headroom.enough) return setMessage(store, `refusing the load test: ${headroom.reason}`, 'error');
				store.setState({
					dialog: {
						title: `Load test: ${clients} read-only sessions for ${durationMs / 1000} s`,
						lines: [
							`Against ${s.redacted}: the app's read queries back to back, each session read-only on the server.`,
							`Headroom: ${headroom.free} connection slots free; ${clients} taken, ${headroom.margin} kept free. Esc stops it early.`,
						],
						confirmLabel: 'start it',
						typed: String(clients),
						onConfirm: () => startLoadTest(clients, durationMs),
					},
				});
			})
			.catch(error => setMessage(store, `cannot check connection headroom: ${errorText(error)}`, 'error'));
	};

	// The job is the registry's: switching screens, quitting or SIGHUP must not orphan its sessions.
	const startLoadTest = (clients: number, durationMs: number) => {
		setUi(store, 'checklist', {loadTest: {elapsedMs: 0, durationMs, connected: 0, queries: 0, errors: 0}});
		jobs.start({
			kind: 'load-test',
			title: `load test, ${clients} sessions`,
			leaves: 'its sessions finish the queries in flight and disconnect; the partial result is recorded as stopped early',
			screen: 'checklist',
			run: async job => {
				try {
					const result = await runLoadTest(target, monitor, {
						clients,
						durationMs,
						signal: job.signal,
						onPid: pid => job.addPid(pid),
						onProgress: p => {
							setUi(store, 'checklist', {loadTest: p});
							job.progress({text: `${p.connected} sessions · ${formatNumber(p.queries)} queries · ${p.errors} errors`, fraction: Math.min(1, p.elapsedMs / p.durationMs)});
						},
					});
					saveLoadTest(auditCtx, result);
					setMessage(store, `load test: ${summary(result)}`, result.errors ? 'error' : 'ok');
					return {ok: !result.errors, cancelled: result.aborted, text: summary(result)};
				} catch (error) {
					setMessage(store, `load test failed: ${errorText(error)}`, 'error');
					throw error;
				} finally {
					setUi(store, 'checklist', {loadTest: undefined});
					reloadLocal();
				}
			},
		});
	};

	const detail = s.details === undefined ? undefined : report.items.find(i => i.id === s.details);
	const lines = detail ? detailLines(detail, db, local) : [];
	const detailHeight = Math.max(3, rows - 2);

	useCommands(
		{
			'checklist.recheck': recheck,
			'checklist.signoff': startSignOff,
			'checklist.withdraw': withdraw,
			'checklist.loadtest': loadTest,
			details: () => setUi(store, 'checklist', {details: selected.id, scroll: 0}),
			back: () => {
				const running = jobs.active('load-test');
				if (running) {
					void jobs.cancel(running.id);
					setMessage(store, 'stopping the load test after the queries in flight');
				}
			},
		},
		!form && !detail,
	);
	useCommands(
		{
			back: () => setUi(store, 'checklist', {details: undefined}),
		},
		detail !== undefined,
	);

	if (detail) {
		return (
			<TextView
				title={`Item ${detail.id}`}
				lines={lines.map((line, i) => (i === 0 ? {text: indented(line, 1000), bold: true, color: verdictColor[detail.verdict]} : indented(line, 1000)))}
				height={detailHeight}
				scroll={s.scroll}
				onScroll={top => setUi(store, 'checklist', {scroll: top})}
				back
			/>
		);
	}

	const scale = scaleItems(s.fleet);
	// the unscored next phases take a line each when there is room, else one line, else (80x24) none
	const room = rows - headerRows - 1 - tableHeight - belowTable;
	const scaleRows = room >= scale.length + 4 ? scale.length + 1 : room >= 1 ? 1 : 0;
	const panelHeight = Math.max(0, rows - headerRows - 1 - tableHeight - belowTable - scaleRows);
	const panel = [...selected.evidence, ...(selected.fix ?? []).map(f => `fix: ${f}`), ...(selected.action && selected.verdict !== 'pass' ? [`key: ${selected.action}`] : [])];
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				<Text bold>Score {headline(report)}</Text>
				<Text color={report.score.ready ? 'green' : 'red'}> · {readiness(report)}</Text>
			</Text>
			<Text wrap="truncate-end">
				This week:{' '}
				{report.score.critical.map(c => (
					<Text key={c.label} color={c.done ? 'green' : 'red'}>
						{c.done ? '✓' : '✗'} {c.label}
						{'  '}
					</Text>
				))}
			</Text>
			{s.progress ? (
				<Text color="yellow" wrap="truncate-end">
					Load test running: {formatDuration(s.progress.elapsedMs)} of {formatDuration(s.progress.durationMs)} · {s.progress.connected} sessions · {formatNumber(s.progress.queries)} queries · {s.progress.errors} errors · Esc stops it
				</Text>
			) : null}
			<Text> </Text>
			<Table
				columns={columns}
				rows={report.items}
				rowKey={i => String(i.id)}
				width={s.width}
				height={tableHeight}
				selection={selection}
				rowStyle={i => ({color: verdictColor[i.verdict]})}
			/>
			<Text> </Text>
			{form ? (
				<SignOffForm form={form} setForm={setForm} onDone={confirmSignOff} />
			) : (
				<Box flexDirection="column">
					<Text bold wrap="truncate-end">
						{selected.id} {selected.title}: <Text color={verdictColor[selected.verdict]}>{verdictLabel[selected.verdict]}</Text>
						<Text dimColor> · Enter for everything behind it{itemDef(selected.id).manual ? ' · s signs off' : ''}</Text>
					</Text>
					{panel.slice(0, panelHeight).map((line, i) => (
						<Text key={i} wrap="truncate-end">
							{'  '}
							{sanitize(line, 500)}
						</Text>
					))}
				</Box>
			)}
			{scaleRows > 0 ? <ScaleSection items={scale} compact={scaleRows === 1} /> : null}
		</Box>
	);
}

/** Phase 2 and Phase 4 of the runbook: what comes next, not part of the score. */
function ScaleSection({items, compact}: {items: ScaleItem[]; compact: boolean}) {
	const mark = (v: ScaleItem['verdict']) => (v === 'pass' ? '✓' : v === 'fail' ? '✗' : '?');
	if (compact)
		return (
			<Text wrap="truncate-end">
				<Text bold>Next (not scored): </Text>
				{items.map(i => (
					<Text key={i.id} color={verdictColor[i.verdict]}>
						{mark(i.verdict)} {i.title.replace(/^Phase \d: /, '')}
						{'  '}
					</Text>
				))}
			</Text>
		);
	return (
		<Box flexDirection="column">
			<Text bold>Next phases (not scored)</Text>
			{items.map(i => (
				<Text key={i.id} wrap="truncate-end">
					<Text color={verdictColor[i.verdict]}>
						{mark(i.verdict)} {i.title}
					</Text>
					<Text dimColor> · {sanitize(i.evidence, 300)}</Text>
				</Text>
			))}
		</Box>
	);
}

/** Who (the OS user unless changed), a note, and for item 9 the runbook's path; then the confirmation. */
function SignOffForm(props: {form: Form; setForm(f: Form | undefined): void; onDone(f: Form, runbook: string): void}) {
	const {form, setForm, onDone} = props;
	const cancel = () => setForm(undefined);
	const title = `Sign off ${form.item} ${itemDef(form.item).title}`;
	if (form.step === 'who')
		return (
			<Box flexDirection="column">
				<Text bold>{title}</Text>
				<TextField key="who" label="Who: " initial={form.who} onSubmit={who => setForm({...form, who, step: 'note'})} onCancel={cancel} />
			</Box>
		);
	if (form.step === 'note')
		return (
			<Box flexDirection="column">
				<Text bold>{title}</Text>
				<Text dimColor>Who: {form.who}</Text>
				<TextField
					key="note"
					label="Note: "
					onSubmit={note => (form.item === 9 ? setForm({...form, note, step: 'path'}) : onDone({...form, note}, ''))}
					onCancel={cancel}
				/>
			</Box>
		);
	return (
		<Box flexDirection="column">
			<Text bold>{title}</Text>
			<Text dimColor>
				Who: {form.who} · Note: {form.note}
			</Text>
			<TextField key="path" label="Runbook path (Enter to skip): " onSubmit={runbook => onDone(form, runbook.trim())} onCancel={cancel} />
		</Box>
	);
}
