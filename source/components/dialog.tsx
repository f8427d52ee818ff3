import React, {useState} from 'react';
import {Box, Text} from 'ink';
import {useAppState, useCommands, useServices} from '../context.js';
import {sanitizeLine} from '../sanitize.js';
import {sanitize} from '../sanitize.js';
import {setMessage} from '../store/store.js';
import {TextField} from './text-field.js';

/** The one confirmation every dangerous command goes through. */
export function DialogOverlay() {
	const {store} = useServices();
	const dialog = useAppState(s => s.dialog);
	const width = useAppState(s => s.size.columns);
	const [mismatch, setMismatch] = useState(false);
	const close = () => {
		store.setState({dialog: undefined});
		setMismatch(false);
	};
	// Every confirmed action says so at once, whatever it is and however loaded the server, then its result.
	const confirm = () => {
		if (!dialog) return;
		close();
		const label = dialog.confirmLabel;
		const sending = `${label}: sending…`;
		setMessage(store, sending);
		const ours = () => store.getState().message?.text === sending;
		let outcome: unknown;
		try {
			outcome = dialog.onConfirm();
		} catch (error) {
			setMessage(store, `${label} failed: ${sanitize(error instanceof Error ? error.message : String(error), 300)}`, 'error');
			return;
		}
		// an action that reports its own progress or result has replaced the message by now, or will
		if (!(outcome instanceof Promise)) {
			if (ours()) setMessage(store, `${label}: started`);
			return;
		}
		outcome.then(
			() => ours() && setMessage(store, `${label}: done`, 'ok'),
			(error: unknown) => setMessage(store, `${label} failed: ${sanitize(error instanceof Error ? error.message : String(error), 300)}`, 'error'),
		);
	};
	const cancel = () => {
		dialog?.onCancel?.();
		close();
	};
	const choose = (command: string) => () => {
		const choice = dialog?.choices?.find(c => c.command === command);
		if (!choice) return;
		close();
		choice.run();
	};
	useCommands(
		{
			'dialog.confirm': dialog?.typed ? undefined : confirm,
			'dialog.cancel': cancel,
			...Object.fromEntries((dialog?.typed ? [] : (dialog?.choices ?? [])).map(c => [c.command, choose(c.command)])),
		},
		dialog !== undefined,
	);
	if (!dialog) return null;
	return (
		<Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1} width={Math.min(width, 100)}>
			<Text bold color="yellow">
				{sanitizeLine(dialog.title, 300)}
			</Text>
			{dialog.lines.map((line, i) => (
				<Text key={i} wrap="wrap">
					{sanitizeLine(line, 1000)}
				</Text>
			))}
			<Text> </Text>
			{dialog.typed ? (
				<>
					<TextField
						label={`Type ${sanitizeLine(dialog.typed, 100)} to ${dialog.confirmLabel}, Esc to cancel: `}
						onSubmit={value => (value.trim() === dialog.typed ? confirm() : setMismatch(true))}
						onCancel={cancel}
					/>
					{mismatch ? <Text color="red">That is not {sanitizeLine(dialog.typed, 100)}; nothing was done.</Text> : null}
				</>
			) : (
				<Text>
					<Text bold>y</Text>/Enter {dialog.confirmLabel} ·{' '}
					{dialog.choices?.map(c => (
						<React.Fragment key={c.command}>
							<Text bold>{c.key}</Text> {c.label} ·{' '}
						</React.Fragment>
					))}
					<Text bold>n</Text>/Esc cancel
				</Text>
			)}
		</Box>
	);
}
