import {test} from 'node:test';
import assert from 'node:assert/strict';
import {ansiToSvg, parseAnsi} from '../scripts/ansi-svg.js';

test('SGR colours, bold and inverse become styled cells; other escapes are dropped', () => {
	const [row] = parseAnsi('\u001B[1;32mok\u001B[0m \u001B[7msel\u001B[27m\u001B[2K!');
	assert.equal(row!.map(c => c.ch).join(''), 'ok sel!');
	assert.equal(row![0]!.style.bold, true);
	assert.equal(row![0]!.style.fg, '#0dbc79');
	assert.equal(row![2]!.style.fg, undefined);
	assert.equal(row![3]!.style.inverse, true);
	assert.equal(row![6]!.style.inverse, false);
});

test('256 and true colour', () => {
	const [row] = parseAnsi('\u001B[38;5;196ma\u001B[48;2;1;2;3mb');
	assert.equal(row![0]!.style.fg, 'rgb(255,0,0)');
	assert.equal(row![1]!.style.bg, 'rgb(1,2,3)');
});

test('the SVG holds every line, escaped, with the inverse background drawn', () => {
	const svg = ansiToSvg('a <b> & c\n\u001B[7mselected\u001B[0m', {title: 'x'});
	assert.match(svg, /^<svg /);
	assert.match(svg, /a &lt;b&gt; &amp; c/);
	assert.match(svg, /<rect x="10\.0" y="27" width="67\.2" height="17" fill="#d4d4d4"\/>/);
	assert.match(svg, /fill="#1e1e1e">selected</);
	assert.doesNotMatch(svg, /\u001B/);
});
