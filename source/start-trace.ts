import fs from 'node:fs';

// INTOWORK_DB_START_TRACE=FILE: each step of the start (and a memory dump on SIGUSR2) appended to FILE as
// "ms-since-node-started cpu-ms step", so the path from spawn to the first screen with data can be timed
// in the real terminal, where the benchmark measures it, without a profiler changing what it measures.
const file = process.env.INTOWORK_DB_START_TRACE;

export const tracing = file !== undefined && file !== '';

export function mark(step: string): void {
	if (!tracing) return;
	const cpu = process.cpuUsage();
	fs.appendFileSync(file!, `${performance.now().toFixed(1)} ${((cpu.user + cpu.system) / 1000).toFixed(0)} ${step}\n`);
}

if (tracing) {
	mark('bundle evaluating');
	// where the native memory goes: V8's heap, buffers outside it, and the rest of the RSS
	process.on('SIGUSR2', () => {
		const m = process.memoryUsage();
		const mib = (n: number) => (n / 2 ** 20).toFixed(1);
		mark(`memory rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)}`);
	});
}

/** When the visible screen's data was stored, and when the first frame (a write of more than escapes) left. */
export function traceFrames(store: {getState(): {screen: string; data: Record<string, {value?: unknown} | undefined>}; subscribe(listener: (s: {screen: string; data: Record<string, {value?: unknown} | undefined>}) => void): () => void}): void {
	let stored = false;
	let drawn = false;
	const unsubscribe = store.subscribe(s => {
		if (stored || s.data[s.screen]?.value === undefined) return;
		stored = true;
		mark('first data stored');
		unsubscribe();
	});
	const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
	process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
		if (!drawn && String(chunk).length > 100) {
			drawn = true;
			mark(stored ? 'first frame written, with data' : 'first frame written, without data');
		}
		return write(chunk, ...rest);
	}) as typeof process.stdout.write;
}
