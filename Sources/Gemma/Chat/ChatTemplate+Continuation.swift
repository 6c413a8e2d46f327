extension ChatTemplate {
    /// The ids that continue a conversation already in a model's cache with a new user turn and the
    /// model header: `[<end_of_turn> if the last reply was cut short] \n <start_of_turn>user\n{text}
    /// <end_of_turn>\n<start_of_turn>model\n`. Turn tokens are matched first and never merge with their
    /// neighbours, so these ids equal the tail of the whole dialogue's encoding.
    public func continuation(userText: String, previousReplyClosed: Bool) -> [Int32] {
        let text = (previousReplyClosed ? "" : Self.endOfTurn) + "\n" + Self.startOfTurn + "user\n"
            + Self.trim(userText) + Self.endOfTurn + "\n" + Self.startOfTurn + "model\n"
        return tokenizer.encode(text)
    }
}

extension SentencePieceTokenizer {
    /// `<eos>` and `<end_of_turn>`, the tokens that end a reply.
    public var stopTokens: Set<Int32> {
        Set([eosId, id(of: ChatTemplate.endOfTurn)].compactMap { $0 })
    }
}
