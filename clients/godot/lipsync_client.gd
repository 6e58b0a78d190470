# lipsync_client.gd: a Godot 4 client of `lipsync serve` (GDScript, no plugin).
#
# NOT RUN IN LIPSYNC'S TESTS: there is no Godot 4 on the machines the tests run on (Debian 12
# has only Godot 3). It keeps to the part of the protocol the C# client (clients/csharp) uses,
# which the tests do run against a real server (tests/test_clients.py): hello, say, stop,
# frame, ended, error. The full protocol is lipsync/serve/schema.json.
#
# Use: add this script to a Node (or autoload it), then
#
#   @onready var lips: LipsyncClient = $LipsyncClient
#   @onready var face: MeshInstance3D = $Avatar/Wolf3D_Head
#   func _ready() -> void:
#       lips.frame.connect(func(_t: float, weights: Dictionary) -> void:
#           for shape in weights:
#               var index := face.find_blend_shape_by_name(shape)
#               if index >= 0:
#                   face.set_blend_shape_value(index, weights[shape]))
#       lips.connected.connect(func(_maps: Array) -> void: lips.say("s1", "こんにちは", "rpm", 60.0))
#
# with `lipsync serve` running (ws://127.0.0.1:50100/lipsync). The server plays the sound and
# sends a frame when its sample plays ("audio": "local"); each frame's weights are 0..1, named as
# the map's morphs ("rpm": a Ready Player Me avatar's viseme_* blend shapes).
extends Node
class_name LipsyncClient

signal connected(maps: Array)
signal frame(t: float, weights: Dictionary)
signal ended(id: String, stopped: bool)
signal failed(code: String, message: String)

@export var url := "ws://127.0.0.1:50100/lipsync"

var _socket := WebSocketPeer.new()


func _ready() -> void:
	var error := _socket.connect_to_url(url)
	if error != OK:
		push_error("lipsync: cannot connect to %s (%s)" % [url, error_string(error)])


## Speak [param text]. Optional: a named map ("vrm", "rpm", ...), frames a second, an intensity
## (0-3; below 0: the server's), and whether to interrupt what plays.
func say(id: String, text: String, map := "", fps := 0.0, intensity := -1.0, interrupt := false) -> void:
	var request := {"type": "say", "id": id, "text": text}
	if map != "":
		request["map"] = map
	if fps > 0.0:
		request["fps"] = fps
	if intensity >= 0.0:
		request["intensity"] = intensity
	if interrupt:
		request["interrupt"] = true
	_socket.send_text(JSON.stringify(request))


## Stop this client's speech, playing and queued (each ends with stopped = true).
func stop() -> void:
	_socket.send_text(JSON.stringify({"type": "stop"}))


func _process(_delta: float) -> void:
	_socket.poll()
	if _socket.get_ready_state() != WebSocketPeer.STATE_OPEN:
		return
	while _socket.get_available_packet_count() > 0:
		var message = JSON.parse_string(_socket.get_packet().get_string_from_utf8())
		if typeof(message) != TYPE_DICTIONARY:
			continue
		match message.get("type", ""):
			"hello":
				connected.emit(message["maps"])
			"frame":
				frame.emit(message["t"], message["weights"])
			"ended":
				ended.emit(message["id"], message["stopped"])
			"error":
				failed.emit(message["code"], message["message"])
