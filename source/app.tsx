import React, {useEffect} from 'react';
import {Box, useInput, useStdout} from 'ink';
import {AppProvider, useAppState, useCommands, useDispatch, useServices, type Services} from './context.js';
import {keyName, resolveCommand, type Scope} from './keymap.js';
import {maxIntervalMs, minIntervalMs} from './store/store.js';
import {screens, screenOrder} from './screens/registry.js';
import {Header} from './components/header.js';
import {Footer} from './components/footer.js';
import {Rule, Tabs} from './components/tabs.js';
import {HelpOverlay} from './components/help.js';
import {useKeyBursts} from './hooks/use-key-bursts.js';
import {DialogOverlay} from './components/dialog.js';
import {JobStrip} from './components/job-strip.js';
import {requestQuit} from './jobs/quit.js';
import {FleetStrip} from './components/fleet-strip.js';

export function App({services}: {services: Services}) {
	return (
		<AppProvider services={services}>
			<Shell />
		</AppProvider>
	);
}

function useTerminalSize() {
	const {stdout} = useStdout();
	const {store} = useServices();
	useEffect(() => {
		const update = () => store.setState({size: {columns: stdout.columns || 80, rows: stdout.rows || 24}});
		update();
		stdout.on('resize', update);
		return () => {
			stdout.off('resize', update);
		};
	}, [stdout, store]);
}

function useGlobalCommands() {
	const {store, refreshNow, quit, jobs} = useServices();
	const go = (delta: number) => {
		const i = screenOrder.indexOf(store.getState().screen);
		store.setState({screen: screenOrder[(i + delta + screenOrder.length) % screenOrder.length]});
	};
	const interval = (factor: number) => {
		const next = Math.min(maxIntervalMs, Math.max(minIntervalMs, store.getState().intervalMs * factor));
		store.setState({intervalMs: next});
	};
	useCommands({
		quit: () => requestQuit(store, jobs, quit),
		help: () => store.setState({overlay: 'help'}),
		'screen.next': () => go(1),
		'screen.prev': () => go(-1),
		...Object.fromEntries(screenOrder.map(id => [`screen.${id}`, () => store.setState({screen: id})])),
		'refresh.pause': () => store.setState(s => ({paused: !s.paused})),
		'refresh.faster': () => interval(0.5),
		'refresh.slower': () => interval(2),
		'refresh.now': refreshNow,
	});
}

function useKeyDispatch() {
	const {store} = useServices();
	const dispatch = useDispatch();
	useInput((input, key) => {
		const name = keyName(input, key);
		// Ctrl-C always quits, whatever owns the keyboard.
		if (name === 'ctrl+c') return void dispatch('quit');
		const s = store.getState();
		if (s.textCapture > 0) return;
		const scopes: Scope[] = s.dialog ? ['dialog'] : s.overlay ? [s.overlay] : [s.screen, 'global'];
		const command = resolveCommand(name, scopes, s.readOnly);
		if (command) dispatch(command.id);
	});
}

function Shell() {
	useKeyBursts();
	useTerminalSize();
	useGlobalCommands();
	useKeyDispatch();
	const {screen, overlay, dialog, rows, columns} = useAppState(s => ({
		screen: s.screen,
		overlay: s.overlay,
		dialog: s.dialog !== undefined,
		rows: s.size.rows,
		columns: s.size.columns,
	}));
	const Screen = screens[screen].Component;
	// One line short of the terminal: a full-height frame makes the terminal scroll and flicker.
	return (
		<Box flexDirection="column" height={Math.max(8, rows - 1)} width={columns} overflow="hidden">
			{/* The chrome never shrinks: content too tall is cut in its own box, never the header. */}
			<Box flexDirection="column" flexShrink={0}>
				<Header />
				<JobStrip />
				<Tabs />
				<Rule />
				<FleetStrip />
			</Box>
			<Box flexDirection="column" flexGrow={1} overflow="hidden">
				{dialog ? <DialogOverlay /> : overlay === 'help' ? <HelpOverlay /> : <Screen />}
			</Box>
			<Box flexDirection="column" flexShrink={0}>
				<Footer />
			</Box>
		</Box>
	);
}
