import React from 'react';
import {Text} from 'ink';

/** A utilisation bar with the target marked (│), green below it and red past it. */
export function Bar(props: {ratio: number | undefined; width: number; target?: number; invert?: boolean}) {
	const width = Math.max(4, props.width);
	const ratio = Math.min(1, Math.max(0, props.ratio ?? 0));
	const filled = Math.round(ratio * width);
	const mark = props.target === undefined ? -1 : Math.min(width - 1, Math.round(props.target * width));
	// invert: higher is better (cache hit ratio)
	const bad = props.target !== undefined && (props.invert ? ratio < props.target : ratio > props.target);
	const chars = Array.from({length: width}, (_, i) => (i === mark ? '│' : i < filled ? '█' : '░'));
	return <Text color={props.ratio === undefined ? 'gray' : bad ? 'red' : 'green'}>{chars.join('')}</Text>;
}
