import {formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';
import {setMessage, type AppStore} from '../store/store.js';
import type {JobRegistry} from './registry.js';

export const quitTitle = 'Jobs are running';

/**
 * q with jobs running asks first, saying per job what cancelling leaves
 * behind: cancel them and quit, wait for them, or (only when every one of
 * them can finish on the server alone) leave them running and quit. q or
 * Ctrl-C again at the question quits at once; the console's exit still
 * cancels and cleans up.
 */
export function requestQuit(store: AppStore, jobs: JobRegistry, quit: () => void): void {
	const running = jobs.running();
	if (running.length === 0 || store.getState().dialog?.title === quitTitle) return quit();
	const now = Date.now();
	const detachable = running.every(j => j.detachable);
	const lines = running.flatMap(j => [
		`▸ ${j.title}, running ${formatDuration(now - j.startedAt)}${j.progress ? `: ${j.progress.text}` : ''}`,
		'  cancelling it:',
		...j.leaves.split('; ').map(l => `    ${l}`),
		...(j.detachable ? ['  leaving it running:', ...j.detachable.split('; ').map(l => `    ${l}`)] : []),
	]);
	const choices = [{command: 'dialog.wait', key: 'w', label: 'wait, then quit', run: () => waitThenQuit(store, jobs, quit)}];
	if (detachable)
		choices.push({
			command: 'dialog.keep',
			key: 'k',
			label: 'leave running, quit',
			run: () => {
				for (const j of jobs.running()) jobs.detach(j.id);
				quit();
			},
		});
	store.setState({
		dialog: {
			title: quitTitle,
			lines: [...lines.map(l => sanitize(l, 400)), ...(detachable ? [] : ['Leaving them running is not offered: not every job can finish safely without the console.'])],
			confirmLabel: 'cancel them and quit',
			choices,
			onConfirm: () => {
				setMessage(store, `cancelling ${running.length === 1 ? 'the job' : `${running.length} jobs`}, then quitting`);
				void jobs.cancelAll().then(quit);
			},
		},
	});
}

function waitThenQuit(store: AppStore, jobs: JobRegistry, quit: () => void): void {
	setMessage(store, 'quitting when the running jobs are done (Ctrl-C quits now, cancelling them)');
	void jobs.idle().then(quit);
}
