import {createStore, type StoreApi} from 'zustand/vanilla';
import type {ScreenId} from '../keymap.js';

/** Every long-running thing the console does on the operator's behalf. */
export type JobKind =
	| 'migration'
	| 'duplicates'
	| 'duplicate-count'
	| 'backup'
	| 'restore-test'
	| 'restore'
	| 'load-test'
	| 'kill'
	| 'recheck';

export type JobOutcome = 'ok' | 'failed' | 'cancelled' | 'left running';

export type JobProgress = {
	/** what it does right now, e.g. "building idx_jobs_status 45%" */
	text: string;
	/** 0..1, when the work knows it */
	fraction?: number;
	/** sessions the work waits for right now */
	waitsFor?: number[];
};

export type JobView = {
	id: number;
	kind: JobKind;
	/** what it is, in a few words: "apply h8c2d6e5f4g3", "backup of intowork" */
	title: string;
	startedAt: number;
	finishedAt?: number;
	progress?: JobProgress;
	/** backends this job opened: the console's own sessions, never another tool's */
	pids: number[];
	result?: {outcome: JobOutcome; text: string};
	cancelling: boolean;
	/** said before anyone cancels it: what stopping it now leaves behind */
	leaves: string;
	/** when set, quitting may leave the server-side work to finish on its own; says what happens then */
	detachable?: string;
	/** the screen that shows its details (the strip says which key) */
	screen?: ScreenId;
	/** routine work whose result its screen shows (the duplicate count): leaves the strip as soon as it ends well */
	quiet?: boolean;
};

/** What the work gets: report progress and pids, notice a cancel. */
export type JobHandle = {
	readonly id: number;
	readonly signal: AbortSignal;
	progress(progress: JobProgress | string): void;
	/** the backend pid of a session the work opened (and unregisters when closed) */
	addPid(pid: number | undefined): void;
	removePid(pid: number): void;
	/** what a cancel or a quit-and-leave-it would leave, as it changes with the work's phase */
	describe(patch: Pick<Partial<JobView>, 'leaves' | 'detachable' | 'title'>): void;
};

export type JobResult = {ok?: boolean; cancelled?: boolean; text: string};

export type JobSpec = {
	kind: JobKind;
	title: string;
	leaves: string;
	screen?: ScreenId;
	quiet?: boolean;
	/** how to stop it besides aborting its signal (e.g. the migration's own cancel) */
	cancel?: () => void | Promise<void>;
	run(job: JobHandle): Promise<JobResult>;
};

export type Job = {readonly id: number; view(): JobView; readonly done: Promise<JobView>; cancel(): Promise<void>};

export type JobsState = {
	/** every job of this console, oldest first */
	jobs: JobView[];
	/** the jobs the strip shows: running ones, and finished ones until they fade */
	shown: JobView[];
};

/** How long a finished job stays on the strip; the Activity log keeps it. */
export const fadeAfterMs = 30_000;

type Entry = {view: JobView; controller: AbortController; done: Promise<JobView>; spec: JobSpec};

/**
 * The console's long-running work, above the screens: screens start jobs
 * and render them; the registry owns them, so switching screens, quitting
 * and SIGHUP all find every job in one place.
 */
export class JobRegistry {
	readonly store: StoreApi<JobsState> = createStore<JobsState>()(() => ({jobs: [], shown: []}));
	private readonly entries = new Map<number, Entry>();
	private nextId = 1;
	private readonly fadeMs: number;
	private readonly onFinish?: (job: JobView) => void;

	constructor(options: {fadeMs?: number; onFinish?: (job: JobView) => void} = {}) {
		this.fadeMs = options.fadeMs ?? fadeAfterMs;
		this.onFinish = options.onFinish;
	}

	start(spec: JobSpec): Job {
		const id = this.nextId++;
		const controller = new AbortController();
		const view: JobView = {id, kind: spec.kind, title: spec.title, startedAt: Date.now(), pids: [], cancelling: false, leaves: spec.leaves, screen: spec.screen, quiet: spec.quiet};
		const handle: JobHandle = {
			id,
			signal: controller.signal,
			progress: p => this.patch(id, {progress: typeof p === 'string' ? {text: p} : p}),
			addPid: pid => {
				if (pid !== undefined && !this.view(id)?.pids.includes(pid)) this.patch(id, {pids: [...(this.view(id)?.pids ?? []), pid]});
			},
			removePid: pid => this.patch(id, {pids: (this.view(id)?.pids ?? []).filter(p => p !== pid)}),
			describe: patch => this.patch(id, patch),
		};
		const entry: Entry = {view, controller, spec, done: Promise.resolve(view)};
		this.entries.set(id, entry);
		this.publish();
		// After the caller's synchronous code, so a job that fails at once still finds its entry.
		entry.done = Promise.resolve()
			.then(() => spec.run(handle))
			.then(
				r => ({outcome: r.cancelled || (controller.signal.aborted && !r.ok) ? ('cancelled' as const) : r.ok === false ? ('failed' as const) : ('ok' as const), text: r.text}),
				(error: unknown) => ({outcome: controller.signal.aborted ? ('cancelled' as const) : ('failed' as const), text: error instanceof Error ? error.message : String(error)}),
			)
			.then(result => this.finish(id, result));
		return {id, view: () => this.view(id)!, done: entry.done, cancel: () => this.cancel(id)};
	}

	view(id: number): JobView | undefined {
		return this.entries.get(id)?.view;
	}

	running(): JobView[] {
		return [...this.entries.values()].map(e => e.view).filter(v => !v.result);
	}

	/** The running job of a kind, if any: most kinds run one at a time. */
	active(kind: JobKind | readonly JobKind[]): JobView | undefined {
		const kinds = typeof kind === 'string' ? [kind] : kind;
		return this.running().find(v => kinds.includes(v.kind));
	}

	/** The running job that opened this backend: the console's own session. */
	ownerOf(pid: number): JobView | undefined {
		return this.running().find(v => v.pids.includes(pid));
	}

	/** Resolves once the job has ended and cleaned up. */
	async cancel(id: number): Promise<void> {
		const entry = this.entries.get(id);
		if (!entry || entry.view.result) return;
		this.patch(id, {cancelling: true});
		entry.controller.abort();
		await entry.spec.cancel?.();
		await entry.done;
	}

	/** Cancels every running job and waits for their clean-up, at most timeoutMs; returns the jobs still running then. */
	async cancelAll(timeoutMs = 60_000): Promise<JobView[]> {
		const running = this.running();
		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<void>(resolve => {
			timer = setTimeout(resolve, timeoutMs);
		});
		await Promise.race([Promise.all(running.map(v => this.cancel(v.id).catch(() => undefined))), deadline]);
		clearTimeout(timer);
		return this.running();
	}

	/** Gives up on a job the console leaves running on the server when it quits. */
	detach(id: number): void {
		const view = this.view(id);
		if (!view || view.result) return;
		this.finish(id, {outcome: 'left running', text: view.detachable ?? 'left running on the server'});
	}

	/** Resolves when no job is running any more. */
	async idle(): Promise<void> {
		while (this.running().length) await Promise.race(this.running().map(v => this.entries.get(v.id)!.done));
	}

	private patch(id: number, patch: Partial<JobView>) {
		const entry = this.entries.get(id);
		if (!entry || entry.view.result) return;
		entry.view = {...entry.view, ...patch};
		this.publish();
	}

	private finish(id: number, result: NonNullable<JobView['result']>): JobView {
		const entry = this.entries.get(id)!;
		if (entry.view.result) return entry.view;
		entry.view = {...entry.view, result, finishedAt: Date.now(), cancelling: false, progress: undefined, pids: []};
		this.publish();
		try {
			this.onFinish?.(entry.view);
		} catch {
			// the log is a record, not a reason to lose the result
		}
		const timer = setTimeout(() => this.publish(), this.fadeMs + 10);
		timer.unref?.();
		return entry.view;
	}

	private publish() {
		const jobs = [...this.entries.values()].map(e => e.view);
		const now = Date.now();
		const shown = jobs.filter(v => !v.finishedAt || (now - v.finishedAt < this.fadeMs && !(v.quiet && v.result?.outcome === 'ok')));
		this.store.setState({jobs, shown});
	}
}
