"""MMDAgent-EX's stock lip map (lip.txt), installed as the package lipsync.data: the default named map."""
