type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>

/**
 * Creates an element: attributes by name (`on…` ones are listeners; `true` sets an empty
 * attribute, `false`/null leave it out) and children, strings as text (never as HTML).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue
    if (typeof value === 'function') element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  append(element, ...children)
  return element
}

export function append(parent: Node, ...children: (Child | Child[])[]) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]) {
  parent.replaceChildren()
  append(parent, ...children)
}

let ids = 0
/** A document-unique id, for labels and aria references. */
export const uniqueId = (prefix: string) => `${prefix}-${++ids}`

/** A labelled form control: the label names it for assistive technology. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement) {
  control.id ||= uniqueId('field')
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control)
}

export function select(
  options: readonly { value: string; label: string }[],
  value: string,
  attrs: Attrs = {},
) {
  const element = h(
    'select',
    attrs,
    options.map((o) => h('option', { value: o.value }, o.label)),
  )
  element.value = value
  return element
}

/** A message in place of a view's content: loading, empty, or an error. */
export const notice = (text: string, kind: 'info' | 'error' = 'info') =>
  h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
