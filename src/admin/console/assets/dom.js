// Building the page: elements are made with createElement and filled with text nodes (textContent),
// never from HTML strings, so a tenant's name or id is always shown as text, whatever it holds.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An element: `attrs` are attributes (`class`, `href`, `data-*`, ...; `hidden`/`disabled` as
 * booleans) plus `on` (event listeners by name); `children` are nodes, or strings and numbers shown
 * as text. Null, undefined and false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element (same `attrs` and `children` as `el`). */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'on') {
      for (const [event, listener] of Object.entries(value)) node.addEventListener(event, listener);
    } else if (value === true) {
      node.setAttribute(name, '');
    } else if (value !== false && value !== undefined && value !== null) {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Sets a node's text only when it changed (no layout work, no lost selection, on a refresh). */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** Sets an attribute only when it changed. */
export function setAttr(node, name, value) {
  if (value === null || value === undefined || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== String(value)) {
    node.setAttribute(name, String(value));
  }
}
