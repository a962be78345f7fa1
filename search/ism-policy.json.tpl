{
  "policy": {
    "description": "loglake logs: searchable while hot, deleted after ${delete_after_days} days",
    "default_state": "hot",
    "states": [
      {
        "name": "hot",
        "actions": ${hot_actions},
        "transitions": [
          { "state_name": "delete", "conditions": { "min_index_age": "${delete_after_days}d" } }
        ]
      },
      {
        "name": "delete",
        "actions": [ { "delete": {} } ],
        "transitions": []
      }
    ],
    "ism_template": [ { "index_patterns": ${index_patterns}, "priority": 100 } ]
  }
}
