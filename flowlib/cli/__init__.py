"""The command line of a flow file: ``python flow.py run|resume|step|check|show|logs|dump|tag``."""
