// The chat page: the client module against this service, on the page's own origin, with any
// number of channels over one socket. Everything a message holds is shown as text
// (textContent), never parsed as HTML.
import { ChatClient } from './client/index.js'

/** Messages kept per channel for the page; older ones are dropped from view. */
const KEPT_PER_CHANNEL = 500

const service = new URL('.', location.href)
const connectForm = document.querySelector('#connect')
const composeForm = document.querySelector('#compose')
const channelList = document.querySelector('#channels')
const presenceList = document.querySelector('#presence')
const typingLine = document.querySelector('#typing')
const messages = document.querySelector('#messages')
const stateLine = document.querySelector('#state')
const errorLine = document.querySelector('#error')
const { token: tokenField, channel: channelField } = connectForm.elements
const { content: contentField, send: sendButton } = composeForm.elements

const stateText = {
  idle: 'not connected',
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected'
}

let client
/** Per channel: its messages, oldest first, and how many arrived while it was not selected. */
let rooms = new Map()
let selected

connectForm.addEventListener('submit', (event) => {
  event.preventDefault()
  client?.close()
  showError('')
  const channels = [...new Set(channelField.value.split(',').map((channel) => channel.trim()).filter(Boolean))]
  rooms = new Map(channels.map((channel) => [channel, { messages: [], unread: 0 }]))
  channelList.replaceChildren(...channels.map(channelItem))
  const current = new ChatClient({
    url: service,
    // One channel opens the socket on it (a refusal is then the upgrade's answer); several subscribe over one socket.
    ...(channels.length === 1 ? { channel: channels[0] } : { channels }),
    // Read on every reconnect: a token pasted after the old one expired is picked up.
    getToken: () => tokenField.value.trim(),
    history: 50,
    presence: true
  })
  client = current
  select(channels[0])
  current.on('state', (state) => {
    if (client !== current) return
    showState(state)
    if (state === 'open') showServerUnread(current)
  })
  current.on('changed', (message) => { if (client === current) changed(message) })
  current.on('message', (message) => { if (client === current) received(message) })
  current.on('error', (error) => { if (client === current) refused(error) })
  current.on('presence', ({ channel }) => { if (client === current && channel === selected) showPresence() })
  current.on('typing', ({ channel }) => { if (client === current && channel === selected) showTyping() })
  current.connect()
  sendButton.disabled = false
})

channelList.addEventListener('click', (event) => {
  const item = event.target.closest('li[data-channel]')
  if (item !== null) select(item.dataset.channel)
})

composeForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const content = contentField.value
  if (client === undefined || selected === undefined || content.trim() === '') return
  contentField.value = ''
  try {
    // While reconnecting the message waits, and is sent once the connection is back.
    await client.send(selected, content)
  } catch (error) {
    showError(`Not sent: ${error.message}`)
    if (contentField.value === '') contentField.value = content
  }
})

contentField.addEventListener('input', () => {
  if (selected !== undefined && contentField.value.trim() !== '') client?.typing(selected)
})

contentField.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    composeForm.requestSubmit()
  }
})

function channelItem (channel) {
  const item = document.createElement('li')
  item.dataset.channel = channel
  item.setAttribute('role', 'option')
  item.append(textElement('span', 'name', channel), textElement('span', 'unread', ''))
  return item
}

function select (channel) {
  selected = channel
  for (const item of channelList.children) item.setAttribute('aria-selected', String(item.dataset.channel === channel))
  const room = rooms.get(channel)
  if (room === undefined) return
  room.unread = 0
  showUnread(channel)
  markRead(channel)
  messages.replaceChildren(...room.messages.map(messageItem))
  messages.lastElementChild?.scrollIntoView({ block: 'nearest' })
  showPresence()
  showTyping()
}

/** The selected channel's online users. */
function showPresence () {
  const users = client === undefined || selected === undefined ? [] : client.presence(selected)
  presenceList.replaceChildren(...users.map((user) => {
    const item = textElement('li', 'user', user)
    item.dataset.user = user
    return item
  }))
}

/** Who is typing in the selected channel, or nothing. */
function showTyping () {
  const typers = client === undefined || selected === undefined ? [] : client.typers(selected)
  typingLine.textContent = typers.length === 0 ? '' : `${typers.join(', ')} ${typers.length === 1 ? 'is' : 'are'} typing…`
}

function received (message) {
  const room = rooms.get(message.channel)
  if (room === undefined || message.deletedAt !== undefined) return
  room.messages.push(message)
  if (room.messages.length > KEPT_PER_CHANNEL) room.messages.shift()
  if (message.channel !== selected) {
    if (message.sender !== client.user) room.unread++
    showUnread(message.channel)
    return
  }
  markRead(message.channel)
  const item = messageItem(message)
  messages.append(item)
  if (messages.children.length > KEPT_PER_CHANNEL) messages.firstElementChild.remove()
  item.scrollIntoView({ block: 'nearest' })
}

/** The service's unread counts (after the read markers), for the channels not shown; the shown one is marked read. */
async function showServerUnread (current) {
  try {
    const counts = await current.unread()
    if (client !== current) return
    for (const [channel, room] of rooms) {
      if (channel === selected || counts[channel] === undefined) continue
      room.unread = counts[channel]
      showUnread(channel)
    }
  } catch (error) {
    showError(error.message)
  }
}

function markRead (channel) {
  client?.markRead(channel).catch((error) => showError(error.message))
}

/** An edit shows the new content with an "edited" mark; a deleted message is taken off the page. */
function changed (message) {
  const room = rooms.get(message.channel)
  if (room === undefined) return
  const at = room.messages.findIndex((shown) => shown.id === message.id)
  if (at === -1) return
  if (message.deletedAt !== undefined) room.messages.splice(at, 1)
  else room.messages[at] = message
  const item = messages.querySelector(`li[data-id="${CSS.escape(message.id)}"]`)
  if (item === null) return
  if (message.deletedAt !== undefined) item.remove()
  else item.replaceWith(messageItem(message))
}

function showUnread (channel) {
  const badge = channelList.querySelector(`li[data-channel="${CSS.escape(channel)}"] .unread`)
  if (badge !== null) badge.textContent = rooms.get(channel).unread > 0 ? String(rooms.get(channel).unread) : ''
}

/** A refused subscription takes its channel off the list. */
function refused (error) {
  const channel = error.body?.channel
  if (channel !== undefined && !client.channels.includes(channel)) {
    rooms.delete(channel)
    channelList.querySelector(`li[data-channel="${CSS.escape(channel)}"]`)?.remove()
    if (selected === channel) select(client.channels[0])
  }
  showError(error.message)
}

function messageItem (message) {
  const item = document.createElement('li')
  item.dataset.id = message.id
  const time = document.createElement('time')
  time.dateTime = message.createdAt
  time.textContent = new Date(message.createdAt).toLocaleTimeString()
  item.append(textElement('span', 'sender', message.sender), time)
  if (message.editedAt !== undefined) item.append(textElement('span', 'edited', 'edited'))
  item.append(textElement('p', 'content', message.content))
  return item
}

function textElement (tag, className, text) {
  const element = document.createElement(tag)
  element.className = className
  element.textContent = text
  return element
}

function showState (state) {
  stateLine.dataset.state = state
  stateLine.textContent = stateText[state]
}

function showError (text) {
  errorLine.textContent = text
  errorLine.hidden = text === ''
}
